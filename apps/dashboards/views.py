"""The dashboards screen: one URL for the page and its HTMX fragment, the window in the query."""

from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.views.generic import TemplateView

from apps.core.htmx import HtmxFragmentMixin
from apps.dashboards.panels import dashboard_panels
from apps.dashboards.selectors import dashboard_get
from apps.dashboards.windows import WINDOW_CHOICES


class DashboardView(LoginRequiredMixin, PermissionRequiredMixin, HtmxFragmentMixin, TemplateView):
    """Every console role may read the dashboards; the window comes from ``?window=``."""

    permission_required = "pipeline.view_transaction"
    template_name = "dashboards/dashboard.html"
    fragment_template_name = "dashboards/partials/dashboard_panels.html"

    def get_context_data(self, **kwargs):
        # An unknown or hostile value falls back to the default window inside window_get.
        key = self.request.GET.get("window")
        panels = dashboard_panels(dashboard_get(window_key=key))
        return {
            **super().get_context_data(**kwargs),
            "panels": panels,
            "windows": WINDOW_CHOICES,
        }
