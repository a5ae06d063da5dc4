"""Configure the demo: users, connectors wired to the sandbox systems, pickup folders."""

import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.services import demo_users_ensure
from apps.connectors.choices import ConnectorKindChoices
from apps.connectors.models import Connector
from apps.sandbox.demo_network import demo_network_build
from apps.sandbox.sftp import host_key

DEMO = settings.DATA_DIR / "demo"
KEY_FIELDS = {"po_number": "po_number", "supplier": "supplier.code", "facility": "facility"}


class Command(BaseCommand):
    help = "Create the demo users and connectors (demo mode only). Safe to run again."

    def handle(self, *args, **options):
        if settings.MODE != "demo" or not settings.SANDBOX_ENABLED:
            raise CommandError("demo_setup runs only in demo mode with the sandbox enabled.")
        sandbox_url = os.environ.get("HUBCONSOLE_SANDBOX_URL", "http://127.0.0.1:8100")
        sftp_port = int(os.environ.get("HUBCONSOLE_SANDBOX_SFTP_PORT", "8122"))
        demo_users_ensure()
        self.stdout.write(demo_network_build().line())

        erp, _ = Connector.objects.update_or_create(
            slug="sandbox-erp",
            defaults={
                "name": "ERP (sandbox)",
                "kind": ConnectorKindChoices.REST_OUT,
                "settings": {"url": f"{sandbox_url}/targets/erp/documents"},
                "rate_limit_per_second": 100,
                "rate_limit_burst": 50,
                "max_attempts": 8,
                "backoff_base_seconds": 2,
                "backoff_cap_seconds": 120,
            },
        )
        Connector.objects.update_or_create(
            slug="procurement-webhook",
            defaults={
                "name": "Procurement SaaS (webhook)",
                "kind": ConnectorKindChoices.WEBHOOK_IN,
                "document_type": "generic.document",
                "settings": {
                    "secret_env": "HUBCONSOLE_SECRET_DEMO_WEBHOOK",
                    "event_id_field": "event_id",
                    "key_fields": KEY_FIELDS,
                },
                "forward_to": erp,
            },
        )
        inbox = DEMO / "inbox"
        inbox.mkdir(parents=True, exist_ok=True)
        Connector.objects.update_or_create(
            slug="inventory-drop",
            defaults={
                "name": "Inventory system (file drop)",
                "kind": ConnectorKindChoices.FILE_IN,
                "settings": {
                    "path": str(inbox),
                    "pattern": "*.json",
                    "min_age_seconds": 2,
                    "key_fields": KEY_FIELDS,
                },
                "forward_to": erp,
                "poll_interval_seconds": 10,
            },
        )
        sftp_root = DEMO / "sftp"
        (sftp_root / "outbox").mkdir(parents=True, exist_ok=True)
        key = host_key(DEMO / "sftp_host_key")
        Connector.objects.update_or_create(
            slug="supplier-sftp",
            defaults={
                "name": "Supplier documents (SFTP)",
                "kind": ConnectorKindChoices.SFTP_IN,
                "settings": {
                    "host": "127.0.0.1",
                    "port": sftp_port,
                    "username": "supplier",
                    "password_env": "HUBCONSOLE_SECRET_DEMO_SFTP_PASSWORD",
                    "host_key": key.export_public_key().decode().strip(),
                    "path": "/outbox",
                    "pattern": "*.json",
                    "min_age_seconds": 2,
                    "key_fields": KEY_FIELDS,
                },
                "forward_to": erp,
                "poll_interval_seconds": 15,
            },
        )
        self.stdout.write(f"demo ready: 4 connectors, folders under {Path(DEMO)}")
