"""Sandbox systems: simulated ERP and other targets, a sender of demo traffic, an SFTP server.

For demos, tests and rehearsal only. Product code never imports this app; it is served by its
own process (hubconsole.sandbox_wsgi) and only when HUBCONSOLE_SANDBOX_ENABLED is true.
"""

from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "apps.sandbox"
    label = "sandbox"
    verbose_name = "Sandbox systems"
