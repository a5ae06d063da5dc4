"""Inbound endpoints of connectors."""

from django.urls import path

from apps.connectors import views

app_name = "connectors"

urlpatterns = [
    path("webhooks/<str:slug>", views.webhook_receive_view, name="webhook_receive"),
]
