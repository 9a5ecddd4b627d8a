"""Top-level URL map: the web UI, the admin, the partner API and its schema."""

from django.contrib import admin
from django.urls import include, path

from api.docs import DocsView, SchemaView
from relay.views import account
from relay.views.auth import AdminLoginView, AdminLogoutView, LoginView, LogoutView
from relay.views.home import favicon

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    # Tools and old browsers ask for /favicon.ico whatever the page's <link rel="icon"> says.
    path("favicon.ico", favicon, name="favicon"),
    # Before the admin's own: its sign-in and sign-out are audited by the same service as ours.
    path("admin/login/", AdminLoginView.as_view()),
    path("admin/logout/", AdminLogoutView.as_view()),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path("api/docs/", DocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("login/", LoginView.as_view(), name="login"),
    path("login/verify/", account.second_factor, name="login-verify"),
    path("login/enrol/", account.enrol_at_sign_in, name="login-enrol"),
    path("account/", account.account, name="account"),
    path("account/two-factor/", account.enrol, name="account-enrol"),
    path("account/recovery-codes/", account.recovery_codes, name="account-recovery-codes"),
    path("account/password/", account.password_change, name="account-password"),
    path("account/confirm/", account.reauth, name="reauth"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("directory/", include("agencies.urls")),
    path("attendance/", include("attendance.urls")),
    path("", include("conferences.urls")),
    path("", include("relay.urls_web")),
]

handler403 = "relay.views.errors.forbidden"
handler404 = "relay.views.errors.not_found"
handler500 = "relay.views.errors.server_error"
