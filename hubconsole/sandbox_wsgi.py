"""WSGI entry point of the sandbox systems, a separate process with its own URLs."""

import os

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hubconsole.settings")
os.environ["HUBCONSOLE_PROCESS"] = "sandbox"

application = get_wsgi_application()

from django.conf import settings  # noqa: E402  (settings are only ready after the app loads)

if not settings.SANDBOX_ENABLED:
    raise ImproperlyConfigured(
        "The sandbox systems are disabled; set HUBCONSOLE_SANDBOX_ENABLED=true to serve them."
    )
