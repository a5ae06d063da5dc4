"""Console URLs."""

from django.urls import path

from apps.console import views

app_name = "console"

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
]
