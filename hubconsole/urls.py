"""URLs of the console and the inbound endpoints."""

from django.contrib import admin
from django.urls import include, path

from apps.accounts.views import LoginView
from apps.core import views as core_views

admin.site.site_header = "HubConsole administration"
admin.site.site_title = "HubConsole"

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    # The admin signs in through the console's throttled sign-in, not Django's stock form:
    # staff passwords get the same limit on guessing.
    path("admin/login/", LoginView.as_view(), name="admin_login"),
    path("admin/", admin.site.urls),
    path("accounts/", include("apps.accounts.urls")),
    path("in/", include("apps.connectors.urls")),
    path("api/v1/", include("hubconsole.api_urls")),
    path("alerts/", include("apps.alerts.urls")),
    path("replays/", include("apps.replays.urls")),
    path("dashboards/", include("apps.dashboards.urls")),
    path("", include("apps.console.urls")),
]
