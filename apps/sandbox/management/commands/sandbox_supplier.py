"""Run the simulated EDI suppliers until stopped (demo and rehearsal only)."""

import os
import time
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.sandbox.supplier import (
    EDI_SUPPLIERS,
    HUBCONSOLE_ISA_ID,
    SCENARIO_ENV,
    SCENARIOS,
    SUPPLIER_ISA_IDS,
    SupplierSimulator,
    suppliers_parse,
    weights_parse,
)

DEMO = settings.DATA_DIR / "demo"
WEBHOOK_SECRET_VARIABLE = "HUBCONSOLE_SECRET_DEMO_WEBHOOK"  # noqa: S105 (a name, not a secret)


class Command(BaseCommand):
    help = "Play the EDI suppliers: answer 850s with 855, 856 and 810 files, post receipts."

    def add_arguments(self, parser):
        parser.add_argument("--root", default=str(DEMO / "sftp"), help="the SFTP server's root")
        parser.add_argument(
            "--suppliers",
            default=",".join(f"{key}:{SUPPLIER_ISA_IDS[key]}" for key in EDI_SUPPLIERS),
            help="folder:ISA_ID,... (the folder is also the demo network's supplier key)",
        )
        parser.add_argument("--hubconsole-id", default=HUBCONSOLE_ISA_ID)
        parser.add_argument("--receipt-webhook", default="inventory-receipts", help="slug")
        parser.add_argument("--receipts-folder", default=str(DEMO / "receipts"))
        parser.add_argument("--ship-delay", type=float, default=5.0, help="seconds")
        parser.add_argument("--invoice-delay", type=float, default=10.0, help="seconds")
        parser.add_argument(
            "--weights", default="", help="scenario weights over the defaults: clean=50,..."
        )
        parser.add_argument(
            "--scenario",
            default=os.environ.get(SCENARIO_ENV, ""),
            choices=["", *SCENARIOS],
            help=f"play this scenario for every PO (default: ${SCENARIO_ENV})",
        )
        parser.add_argument("--tax-rate", default="0", help="line sales tax, e.g. 0.0625")
        parser.add_argument("--min-age", type=float, default=2.0, help="seconds an 850 must rest")
        parser.add_argument("--once", action="store_true", help="one step, then exit")

    def handle(self, *args, **options):
        if not settings.SANDBOX_ENABLED:
            raise CommandError("The sandbox is disabled (HUBCONSOLE_SANDBOX_ENABLED).")
        secret = os.environ.get(WEBHOOK_SECRET_VARIABLE)
        if not secret:
            raise CommandError(f"Set {WEBHOOK_SECRET_VARIABLE}.")
        try:
            suppliers = suppliers_parse(options["suppliers"])
            weights = weights_parse(options["weights"])
            tax_rate = Decimal(options["tax_rate"])
            simulator = self._simulator(options, suppliers, weights, tax_rate, secret)
        except (ValueError, ArithmeticError) as error:
            raise CommandError(str(error)) from None
        names = ", ".join(f"{s.folder} ({s.isa_id})" for s in suppliers)
        self.stdout.write(f"suppliers {names} at {options['root']}")
        while True:
            try:
                for line in simulator.step():
                    self.stdout.write(line)
                self.stdout.flush()
            except OSError as error:
                # A folder or disk problem: say so and try again, as a partner's system would.
                self.stderr.write(f"supplier: {type(error).__name__}: {error}; retrying")
            if options["once"]:
                return
            time.sleep(1)

    def _simulator(self, options, suppliers, weights, tax_rate, secret) -> SupplierSimulator:
        return SupplierSimulator(
            root=Path(options["root"]),
            suppliers=suppliers,
            hubconsole_id=options["hubconsole_id"],
            base_url=settings.HUBCONSOLE["BASE_URL"],
            receipt_webhook=options["receipt_webhook"],
            secret=secret,
            receipts_folder=Path(options["receipts_folder"]),
            ship_delay=options["ship_delay"],
            invoice_delay=options["invoice_delay"],
            weights=weights,
            scenario=options["scenario"],
            tax_rate=tax_rate,
            min_age=options["min_age"],
        )
