"""Dashboard URLs, included under /dashboards/ by hubconsole/urls.py."""

from django.urls import path

from apps.dashboards import views

app_name = "dashboards"

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
]
