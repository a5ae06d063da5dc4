"""The alert history screen: what was sent to whom and when, and what failed."""

from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.views.generic import TemplateView

from apps.alerts.filtersets import AlertFilterSet
from apps.alerts.selectors import CONSOLE_PERMISSION, alert_list
from apps.core.htmx import HtmxFragmentMixin
from apps.core.pagination import keyset_page

PAGE_SIZE = 50


class AlertListView(LoginRequiredMixin, PermissionRequiredMixin, HtmxFragmentMixin, TemplateView):
    """Any console role sees its teams' alerts; administrators see every team's."""

    permission_required = CONSOLE_PERMISSION
    template_name = "alerts/alert_list.html"
    fragment_template_name = "alerts/partials/alert_table.html"

    def get_context_data(self, **kwargs):
        filterset = AlertFilterSet(self.request.GET, queryset=alert_list(user=self.request.user))
        return {
            **super().get_context_data(**kwargs),
            "filterset": filterset,
            "page": keyset_page(filterset.qs, params=self.request.GET, size=PAGE_SIZE),
        }
