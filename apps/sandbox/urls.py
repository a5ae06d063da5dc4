"""URLs of the sandbox process (its ROOT_URLCONF); never included by the product's URLs."""

from django.urls import path

from apps.sandbox import views

urlpatterns = [
    path("healthz", views.healthz),
    path("targets/<slug:target>/documents", views.documents),
    path("faults", views.faults),
]
