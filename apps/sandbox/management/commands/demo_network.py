"""Create the demo's master data: a health network with cross-references and planted flaws."""

from django.core.management.base import BaseCommand, CommandError

from apps.core.errors import HubError
from apps.sandbox.demo_network import demo_network_build


class Command(BaseCommand):
    help = (
        "Create the demo master data (2 legal entities, 8 facilities, 60 suppliers, 3,000 items, "
        "1,500 charge codes, cross-references for ERP, BILLING and PROCUREMENT). Demo or test "
        "mode with the sandbox enabled only. Safe to run again: creates only what is missing."
    )

    def handle(self, *args, **options):
        try:
            summary = demo_network_build()
        except HubError as error:
            raise CommandError(error.message) from error
        self.stdout.write(summary.line())
