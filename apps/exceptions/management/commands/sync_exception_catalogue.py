"""Add missing teams and exception codes from the seed catalogue (never overwrites edits)."""

from django.core.management.base import BaseCommand

from apps.exceptions.services import exception_catalogue_sync


class Command(BaseCommand):
    help = "Create missing teams and exception codes from the seed catalogue."

    def handle(self, *args, **options):
        teams, codes = exception_catalogue_sync()
        self.stdout.write(f"{teams} team(s) and {codes} code(s) created.")
