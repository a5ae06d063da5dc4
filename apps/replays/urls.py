"""Bulk replay URLs, included under /replays/ by hubconsole/urls.py."""

from django.urls import path

from apps.replays import views

app_name = "replays"

urlpatterns = [
    path("", views.ReplayJobListView.as_view(), name="replayjob_list"),
    path("new/", views.ReplayJobCreateView.as_view(), name="replayjob_new"),
    path("<int:pk>/", views.ReplayJobDetailView.as_view(), name="replayjob_detail"),
    path("<int:pk>/cancel", views.ReplayJobCancelView.as_view(), name="replayjob_cancel"),
    path("<int:pk>/resume", views.ReplayJobResumeView.as_view(), name="replayjob_resume"),
]
