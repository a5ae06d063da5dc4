"""WSGI entry point of the console and inbound endpoints (gunicorn hubconsole.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hubconsole.settings")

application = get_wsgi_application()
