"""Status API routes of the pipeline (included by hubconsole/api_urls.py)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.pipeline.api.views import LineageView, TransactionViewSet

router = SimpleRouter()
router.register("transactions", TransactionViewSet, basename="transaction")

urlpatterns = [
    *router.urls,
    path("lineage/<str:correlation_id>/", LineageView.as_view(), name="lineage"),
]
