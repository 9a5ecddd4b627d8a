"""The partner API, version 1 (mounted at /api/v1/ by relay/urls.py)."""

from django.urls import path, re_path

from api import views

app_name = "api"

urlpatterns = [
    path("whoami/", views.WhoAmIView.as_view(), name="whoami"),
    # Keep last: anything else under /api/v1/ is a not-found problem.
    re_path(r"^.*$", views.NotFoundView.as_view(), name="not-found"),
]
