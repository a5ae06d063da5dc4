"""HTMX conventions: one URL per screen; an HTMX request gets the fragment, others the page."""

from django.utils.cache import patch_vary_headers


class HtmxFragmentMixin:
    """Render ``fragment_template_name`` for HTMX requests, ``template_name`` otherwise."""

    fragment_template_name: str = ""

    def get_template_names(self) -> list[str]:
        if getattr(self.request, "htmx", False) and self.fragment_template_name:
            return [self.fragment_template_name]
        return super().get_template_names()

    def render_to_response(self, context, **kwargs):
        response = super().render_to_response(context, **kwargs)
        patch_vary_headers(response, ["HX-Request"])
        return response
