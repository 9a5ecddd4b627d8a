"""The directory's pages (namespace "agencies")."""

from django.urls import path

from agencies import views

app_name = "agencies"

urlpatterns = [
    path("", views.directory, name="directory"),
    path("<slug:slug>/", views.agency_detail, name="agency-detail"),
]
