"""Serve the sandbox SFTP server until stopped."""

import asyncio
import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.sandbox.sftp import host_key, listen


class Command(BaseCommand):
    help = "Run the sandbox SFTP server (demo and rehearsal only)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8122)
        parser.add_argument("--root", default=str(settings.DATA_DIR / "demo" / "sftp"))
        parser.add_argument("--username", default="supplier")
        parser.add_argument("--password-env", default="HUBCONSOLE_SECRET_DEMO_SFTP_PASSWORD")

    def handle(self, *args, **options):
        if not settings.SANDBOX_ENABLED:
            raise CommandError("The sandbox is disabled (HUBCONSOLE_SANDBOX_ENABLED).")
        password = os.environ.get(options["password_env"])
        if not password:
            raise CommandError(f"Set {options['password_env']} to the SFTP password.")
        root = Path(options["root"])
        key = host_key(root.parent / "sftp_host_key")

        async def serve():
            await listen(
                root=root,
                username=options["username"],
                password=password,
                key=key,
                port=options["port"],
                host=options["host"],
            )
            self.stdout.write(f"sandbox SFTP listening on {options['host']}:{options['port']}")
            await asyncio.Event().wait()

        asyncio.run(serve())
