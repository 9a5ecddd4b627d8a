"""Signing in and out: Django's views with our templates, lockout by django-axes, audited.

The views call agencies.sessions, which signs in or out and writes the audit event in the
same transaction. The admin's login and logout pages are routed here too (tsunagu/urls.py), so
every way into a session is audited the same way.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy

from agencies import sessions, signin_throttle, twofactor
from relay.views.account import client_ip


class LoginView(auth_views.LoginView):
    """The password step. Whoever needs a second factor is left *pending* (not signed in)
    and sent to the code step (or to enrol first); everyone else is signed in here."""

    template_name = "relay/auth/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if signin_throttle.ip_blocked(client_ip(request)):
            return render(request, "relay/auth/throttled.html", status=429)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        if twofactor.second_step_needed(user):
            sessions.pending_start(request=self.request, user=user, next_url=self.get_success_url())
            if twofactor.has_second_factor(user):
                return HttpResponseRedirect(reverse("login-verify"))
            return HttpResponseRedirect(reverse("login-enrol"))
        sessions.session_sign_in(request=self.request, user=user)
        return HttpResponseRedirect(self.get_success_url())

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        # "invalid_login" is the form's answer to a password check that failed (including a
        # username that django-axes has locked); a form missing a field checked nothing.
        if form.has_error(NON_FIELD_ERRORS, "invalid_login"):
            signin_throttle.ip_failed(client_ip(self.request))
            sessions.sign_in_failed(
                username=str(form.cleaned_data.get("username") or ""),
                locked_out=bool(getattr(self.request, "axes_locked_out", False)),
            )
        return super().form_invalid(form)


class LogoutView(auth_views.LogoutView):
    """POST only (Django's default): a link cannot sign someone out."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        sessions.session_sign_out(request=request)
        redirect_to = self.get_success_url()
        if redirect_to != request.get_full_path():
            return HttpResponseRedirect(redirect_to)
        return super().get(request, *args, **kwargs)


class AdminLoginView(LoginView):
    """The admin site's login page (its form and template), signing in through the service."""

    template_name = "admin/login.html"
    authentication_form = AdminAuthenticationForm
    redirect_authenticated_user = False

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        request.current_app = admin.site.name
        if request.method == "GET" and admin.site.has_permission(request):
            return HttpResponseRedirect(reverse("admin:index", current_app=admin.site.name))
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = {
            **admin.site.each_context(self.request),
            "title": gettext_lazy("ログイン"),
            "subtitle": None,
            "app_path": self.request.get_full_path(),
            "username": self.request.user.get_username(),
            **super().get_context_data(**kwargs),
        }
        asked = {*self.request.GET, *self.request.POST}
        if REDIRECT_FIELD_NAME not in asked:
            context[REDIRECT_FIELD_NAME] = reverse("admin:index", current_app=admin.site.name)
        return context


class AdminLogoutView(LogoutView):
    """The admin site's logout, through the same service."""

    template_name = "registration/logged_out.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {
            **admin.site.each_context(self.request),
            "has_permission": False,
            **super().get_context_data(**kwargs),
        }
