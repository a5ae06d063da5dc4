"""Celery tasks of master data: the scheduled duplicate scan."""

from celery import shared_task

from apps.masterdata.services import duplicates_scan


@shared_task(name="masterdata.scan_duplicates", time_limit=600, soft_time_limit=540)
def scan_duplicates() -> int:
    return duplicates_scan()
