"""The status API, /api/v1: each app's api/urls.py, the OpenAPI schema and its docs.

Anything else under /api/v1 answers 404 in the API's error format.
"""

from django.contrib.auth.decorators import login_required
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.core.api import api_not_found

app_name = "api"

urlpatterns = [
    path("", include("apps.pipeline.api.urls")),
    path("", include("apps.exceptions.api.urls")),
    path("", include("apps.p2p.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # People read the docs signed in to the console; the page then fetches the schema with
    # their session. Assets come from drf-spectacular-sidecar's static files (no CDN).
    path(
        "docs/",
        login_required(SpectacularSwaggerSplitView.as_view(url_name="api:schema")),
        name="docs",
    ),
    re_path(r"^", api_not_found),
]
