"""Create or update the role groups and their permissions (also runs after every migrate)."""

from django.core.management.base import BaseCommand

from apps.accounts.services import roles_sync


class Command(BaseCommand):
    help = "Create or update one group per role with exactly the role's permissions."

    def handle(self, *args, **options):
        groups = roles_sync()
        for group in groups:
            self.stdout.write(f"{group.name}: {group.permissions.count()} permissions")
