"""URLs of the attendance screens (namespace "attendance")."""

from django.urls import path

from attendance import setup_views, views

app_name = "attendance"

urlpatterns = [
    path("", views.home, name="home"),
    path("classes/<int:classroom_id>/entry/", views.entry, name="entry"),
    path("upload/", views.upload, name="upload"),
    path("pupils/<int:pupil_id>/", views.pupil, name="pupil"),
    path("actions/<int:action_id>/", views.action, name="action"),
    path("actions/<int:action_id>/referral/", views.referral, name="referral"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("ward/", views.ward, name="ward"),
    path("ward/monthly.csv", views.ward_monthly, name="ward-monthly"),
    path("setup/classes/", setup_views.classes, name="setup-classes"),
    path("setup/posts/", setup_views.posts, name="setup-posts"),
    path("setup/closures/", setup_views.closures, name="setup-closures"),
    path("rules/", setup_views.rules, name="rules"),
]
