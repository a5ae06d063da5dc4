"""Configure the demo: users, connectors wired to the sandbox systems, pickup folders."""

import os
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.accounts import roles
from apps.accounts.services import demo_users_ensure, role_group
from apps.connectors.choices import ConnectorKindChoices, MessageFormatChoices
from apps.connectors.models import Connector
from apps.edi.models import TradingPartner
from apps.edi.processors import INTERCHANGE
from apps.p2p import canonical as doc
from apps.p2p.models import VarianceAuthority
from apps.sandbox.demo_network import EDI_PARTNERS, demo_network_build
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
        count = 4 + self._procure_to_pay(sandbox_url, sftp_port, key.export_public_key().decode())
        self.stdout.write(f"demo ready: {count} connectors, folders under {Path(DEMO)}")

    def _procure_to_pay(self, sandbox_url: str, sftp_port: int, host_key: str) -> int:
        """The procure-to-pay flow: procurement POs and inventory receipts by webhook, receipt
        files, the ERP's REST resources, and each EDI supplier's SFTP folders."""
        erp = {"erp_orders": "erp-orders", "erp_receipts": "erp-receipts"}
        erp["erp_vouchers"] = "erp-vouchers"
        for slug, resource, name in (
            ("erp-orders", "purchase-orders", "ERP purchase orders (sandbox)"),
            ("erp-receipts", "receipts", "ERP goods receipts (sandbox)"),
            ("erp-vouchers", "ap-vouchers", "ERP AP vouchers (sandbox)"),
        ):
            _connector(
                slug,
                name=name,
                kind=ConnectorKindChoices.REST_OUT,
                settings={"url": f"{sandbox_url}/erp/{resource}"},
                rate_limit_per_second=100,
                rate_limit_burst=50,
                backoff_base_seconds=2,
                backoff_cap_seconds=120,
            )
        webhook = {"secret_env": "HUBCONSOLE_SECRET_DEMO_WEBHOOK", "event_id_field": "event_id"}
        _connector(
            "procurement-po",
            name="Procurement SaaS purchase orders (webhook)",
            kind=ConnectorKindChoices.WEBHOOK_IN,
            document_type=doc.PURCHASE_ORDER,
            settings={**webhook, **erp, "source_system": "PROCUREMENT"},
        )
        _connector(
            "inventory-receipts",
            name="Inventory goods receipts (webhook)",
            kind=ConnectorKindChoices.WEBHOOK_IN,
            document_type=doc.RECEIPT,
            settings={**webhook, **erp},
        )
        receipts = DEMO / "receipts"
        receipts.mkdir(parents=True, exist_ok=True)
        _connector(
            "inventory-receipt-files",
            name="Inventory goods receipts (CSV files)",
            kind=ConnectorKindChoices.FILE_IN,
            format=MessageFormatChoices.CSV,
            document_type=doc.RECEIPT,
            settings={"path": str(receipts), "pattern": "*.csv", "min_age_seconds": 2, **erp},
            poll_interval_seconds=10,
        )
        server = {
            "host": "127.0.0.1",
            "port": sftp_port,
            "username": "supplier",
            "password_env": "HUBCONSOLE_SECRET_DEMO_SFTP_PASSWORD",
            "host_key": host_key.strip(),
        }
        for key, isa_id in EDI_PARTNERS.items():
            for folder in ("in", "out"):
                (DEMO / "sftp" / key / folder).mkdir(parents=True, exist_ok=True)
            outbound = _connector(
                f"{key}-edi-out",
                name=f"{key.title()} EDI: orders and acknowledgments (SFTP)",
                kind=ConnectorKindChoices.SFTP_OUT,
                settings={**server, "path": f"/{key}/in"},
            )
            _connector(
                f"{key}-edi-in",
                name=f"{key.title()} EDI: acknowledgments, ship notices, invoices (SFTP)",
                kind=ConnectorKindChoices.SFTP_IN,
                format=MessageFormatChoices.X12,
                document_type=INTERCHANGE,
                settings={
                    **server,
                    "path": f"/{key}/out",
                    "pattern": "*.x12",
                    "min_age_seconds": 2,
                    **erp,
                },
                poll_interval_seconds=10,
            )
            TradingPartner.objects.update_or_create(
                isa_qualifier="ZZ",
                isa_id=isa_id,
                defaults={"name": key.title(), "outbound": outbound},
            )
        # AP analysts accept invoice variances up to 500.00 in the demo.
        VarianceAuthority.objects.update_or_create(
            group=role_group(roles.AP_ANALYST), defaults={"max_amount": Decimal("500.00")}
        )
        return 6 + 2 * len(EDI_PARTNERS)


def _connector(slug: str, **fields) -> Connector:
    connector, _ = Connector.objects.update_or_create(slug=slug, defaults=fields)
    return connector
