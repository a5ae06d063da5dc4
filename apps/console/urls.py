"""Console URLs."""

from django.urls import path

from apps.console import edit_views, mapping_views, views

app_name = "console"

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("search/", views.SearchView.as_view(), name="search"),
    path("transactions/", views.TransactionListView.as_view(), name="transaction_list"),
    path(
        "transactions/<int:pk>/", views.TransactionDetailView.as_view(), name="transaction_detail"
    ),
    path(
        "transactions/<int:pk>/replay",
        views.TransactionReplayView.as_view(),
        name="transaction_replay",
    ),
    path(
        "transactions/<int:pk>/edit",
        edit_views.TransactionEditView.as_view(),
        name="transaction_edit",
    ),
    path("exceptions/", views.ExceptionListView.as_view(), name="exception_list"),
    path("exceptions/fix-mapping/", mapping_views.FixMappingView.as_view(), name="fix_mapping"),
    path(
        "exceptions/fix-mapping/<int:pk>/approve",
        mapping_views.FixMappingApproveView.as_view(),
        name="fix_mapping_approve",
    ),
    path("exceptions/groups/", views.ExceptionGroupListView.as_view(), name="exception_group_list"),
    path("exceptions/<int:pk>/", views.ExceptionDetailView.as_view(), name="exception_detail"),
    path(
        "exceptions/<int:pk>/action", views.ExceptionActionView.as_view(), name="exception_action"
    ),
    path("connectors/", views.ConnectorListView.as_view(), name="connector_list"),
    path("connectors/<int:pk>/pause", views.ConnectorPauseView.as_view(), name="connector_pause"),
]
