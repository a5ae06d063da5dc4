"""Status API routes of business documents (included by hubconsole/api_urls.py).

Numbers may contain slashes (some suppliers number invoices "2026/0042"), hence ``path``.
"""

from django.urls import path

from apps.p2p.api import views

urlpatterns = [
    path("documents/", views.DocumentSearchView.as_view(), name="document-search"),
    path(
        "documents/purchase_order/<path:number>/",
        views.PurchaseOrderDocumentView.as_view(),
        name="document-purchase-order",
    ),
    path(
        "documents/invoice/<path:number>/",
        views.InvoiceDocumentView.as_view(),
        name="document-invoice",
    ),
    path(
        "documents/receipt/<path:number>/",
        views.ReceiptDocumentView.as_view(),
        name="document-receipt",
    ),
    path(
        "documents/ship_notice/<path:number>/",
        views.ShipNoticeDocumentView.as_view(),
        name="document-ship-notice",
    ),
]
