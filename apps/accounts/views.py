"""Login and logout screens; login is throttled per user name and address."""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.shortcuts import render

from apps.accounts.services import (
    login_failure_record,
    login_is_throttled,
    login_success_record,
)


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def _identity(self) -> dict:
        return {
            "username": self.request.POST.get("username", "")[:150],
            "remote_addr": self.request.META.get("REMOTE_ADDR", ""),
        }

    def post(self, request, *args, **kwargs):
        if login_is_throttled(**self._identity()):
            response = render(request, "accounts/login_throttled.html", status=429)
            response["Retry-After"] = str(settings.LOGIN_THROTTLE_WINDOW_SECONDS)
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        login_failure_record(**self._identity())
        return super().form_invalid(form)

    def form_valid(self, form):
        login_success_record(**self._identity())
        return super().form_valid(form)


class LogoutView(auth_views.LogoutView):
    pass
