"""Create (and list) one demo user per role. Demo and development modes only."""

from django.core.management.base import BaseCommand, CommandError

from apps.accounts.services import demo_users_ensure


class Command(BaseCommand):
    help = "Create one demo user per role and print their logins (demo mode only)."

    def add_arguments(self, parser):
        parser.add_argument("--list", action="store_true", help="print the logins")

    def handle(self, *args, **options):
        try:
            users = demo_users_ensure()
        except RuntimeError as error:
            raise CommandError(str(error)) from None
        if options["list"]:
            for username, role, password in users:
                self.stdout.write(f"  {username:<8} {password:<14} {role}")
