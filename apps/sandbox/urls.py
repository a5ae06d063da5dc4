"""URLs of the sandbox process (its ROOT_URLCONF); never included by the product's URLs."""

from django.urls import path

from apps.sandbox import views
from apps.sandbox.choices import ErpDocumentKindChoices as Kind

urlpatterns = [
    path("healthz", views.healthz),
    path("targets/<slug:target>/documents", views.documents),
    path("faults", views.faults),
    *(
        path(f"erp/{resource}", views.erp_documents, {"kind": kind, "resource": resource})
        for resource, kind in (
            ("purchase-orders", Kind.PURCHASE_ORDER),
            ("receipts", Kind.RECEIPT),
            ("ap-vouchers", Kind.AP_VOUCHER),
        )
    ),
]
