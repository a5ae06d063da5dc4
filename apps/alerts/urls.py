"""Alert URLs, included under /alerts/ by hubconsole/urls.py."""

from django.urls import path

from apps.alerts import views

app_name = "alerts"

urlpatterns = [
    path("", views.AlertListView.as_view(), name="alert_list"),
]
