"""Sign-in's second step, enrolment of an authenticator, recovery codes, password change and
re-authentication: the screens; every change goes through agencies.sessions/twofactor.

The password step (relay.views.auth.LoginView) leaves the person *pending* when a second
factor is needed; these screens finish the sign-in (with a code, or by enrolling first when
the agency requires it and none is set up yet). Nobody reaches any other page in between.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from agencies import sessions, signin_throttle, twofactor

ENROLMENT = "tsunagu_enrolment_device"
NEW_CODES = "tsunagu_new_recovery_codes"


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("確認コード"),
        max_length=16,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class ReauthForm(forms.Form):
    password = forms.CharField(
        label=gettext_lazy("パスワード"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )
    code = forms.CharField(
        label=gettext_lazy("確認コード(2段階認証)"),
        max_length=16,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


def client_ip(request: HttpRequest) -> str | None:
    # REMOTE_ADDR only, as django-axes and the audit middleware (X-Forwarded-For is forgeable).
    return request.META.get("REMOTE_ADDR")


def safe_next(request: HttpRequest, candidate: str | None) -> str:
    """`candidate` if it points at this site, else the home page."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return "/"


def _blocked(request: HttpRequest) -> HttpResponse | None:
    if signin_throttle.ip_blocked(client_ip(request)):
        return render(request, "relay/auth/throttled.html", status=429)
    return None


# --- the second step of sign-in ---------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def second_factor(request: HttpRequest) -> HttpResponseBase:
    """Enter the code of the authenticator app (or a recovery code)."""
    pending = sessions.pending_user(request)
    if pending is None:
        return redirect("login")
    user, next_url = pending
    if not twofactor.has_second_factor(user):
        return redirect("login-enrol")
    form = CodeForm(request.POST or None)
    if request.method == "POST":
        blocked = _blocked(request)
        if blocked is not None:
            return blocked
        if form.is_valid():
            device = twofactor.second_factor_verify(user=user, token=form.cleaned_data["code"])
            if device is not None:
                sessions.session_sign_in(request=request, user=user, device=device)
                return HttpResponseRedirect(safe_next(request, next_url))
            signin_throttle.ip_failed(client_ip(request))
            form.add_error(
                "code",
                _("確認コードが正しくありません。アプリに表示されている6桁の数字を入力してください。"),
            )
    return render(request, "relay/auth/second_factor.html", {"form": form})


@require_http_methods(["GET", "POST"])
def enrol_at_sign_in(request: HttpRequest) -> HttpResponseBase:
    """First sign-in of someone who must use a second factor: set up the app, then in."""
    pending = sessions.pending_user(request)
    if pending is None:
        return redirect("login")
    user, next_url = pending
    if twofactor.has_second_factor(user):
        return redirect("login-verify")
    return _enrol(request, user, after=next_url, signing_in=True)


@login_required
@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest) -> HttpResponseBase:
    """A signed-in person sets up (or replaces) their authenticator from the account page.
    Replacing one needs the password confirmed again."""
    if twofactor.has_second_factor(request.user) and not sessions.reauth_fresh(request):
        return sessions.reauth_redirect(request)
    return _enrol(request, request.user, after=reverse("account"), signing_in=False)


def _enrol(request: HttpRequest, user: Any, *, after: str, signing_in: bool) -> HttpResponseBase:
    device_id = request.session.get(ENROLMENT)
    enrolment = (
        twofactor.totp_enrolment_pending(user=user, device_id=device_id)
        if isinstance(device_id, int)
        else None
    )
    if enrolment is None:
        enrolment = twofactor.totp_enrolment_start(user=user)
        request.session[ENROLMENT] = enrolment.device.pk
    form = CodeForm(request.POST or None)
    if request.method == "POST":
        blocked = _blocked(request)
        if blocked is not None:
            return blocked
        if form.is_valid():
            codes = twofactor.totp_enrolment_confirm(
                user=user, device_id=enrolment.device.pk, token=form.cleaned_data["code"]
            )
            if codes is not None:
                request.session.pop(ENROLMENT, None)
                device = twofactor.confirmed_totp(user)
                if signing_in:
                    sessions.session_sign_in(request=request, user=user, device=device)
                else:
                    sessions.session_second_factor(request=request, device=device)
                request.session[NEW_CODES] = codes
                request.session["tsunagu_after_codes"] = safe_next(request, after)
                return redirect("account-recovery-codes")
            signin_throttle.ip_failed(client_ip(request))
            form.add_error(
                "code", _("確認コードが正しくありません。時刻の設定とコードを確かめてください。")
            )
    return render(
        request,
        "relay/auth/enrol.html",
        {
            "form": form,
            "secret": enrolment.secret,
            "qr_svg": enrolment.qr_svg(),
            "signing_in": signing_in,
            "required": twofactor.two_factor_required(user),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def recovery_codes(request: HttpRequest) -> HttpResponseBase:
    """New recovery codes are shown once, right after they are made."""
    if request.method == "POST":
        if not sessions.reauth_fresh(request):
            return sessions.reauth_redirect(request, reverse("account"))
        request.session[NEW_CODES] = twofactor.recovery_codes_regenerate(user=request.user)
        request.session["tsunagu_after_codes"] = reverse("account")
        return redirect("account-recovery-codes")
    codes = request.session.pop(NEW_CODES, None)
    if not codes:
        return redirect("account")
    return render(
        request,
        "relay/auth/recovery_codes.html",
        {"codes": codes, "after": request.session.pop("tsunagu_after_codes", "/")},
    )


# --- the account page, password, re-authentication -------------------------------------------


@login_required
def account(request: HttpRequest) -> HttpResponse:
    user = request.user
    return render(
        request,
        "relay/auth/account.html",
        {
            "enrolled": twofactor.has_second_factor(user),
            "required": twofactor.two_factor_required(user),
            "codes_left": twofactor.recovery_codes_left(user),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    """Self-service password change (the site's password rules apply)."""
    form = PasswordChangeForm(request.user, request.POST or None)  # type: ignore[arg-type]  # login_required: a User
    if request.method == "POST" and form.is_valid():
        user = form.save()
        sessions.password_changed(request=request, user=user)
        messages.success(request, _("パスワードを変更しました。"))
        return redirect("account")
    return render(request, "relay/auth/password_change.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def reauth(request: HttpRequest) -> HttpResponseBase:
    """Confirm the password (and the code, if enrolled) before a sensitive action."""
    user = request.user
    enrolled = twofactor.has_second_factor(user)
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    form = ReauthForm(request.POST or None)
    if request.method == "POST":
        blocked = _blocked(request)
        if blocked is not None:
            return blocked
        if form.is_valid():
            checked = authenticate(
                request, username=user.get_username(), password=form.cleaned_data["password"]
            )
            ok = checked is not None and checked.pk == user.pk
            if ok and enrolled:
                ok = (
                    twofactor.second_factor_verify(user=user, token=form.cleaned_data["code"])
                    is not None
                )
            if ok:
                sessions.reauthenticated(request=request, user=user, purpose=next_url)
                return HttpResponseRedirect(next_url)
            signin_throttle.ip_failed(client_ip(request))
            form.add_error(None, _("パスワードまたは確認コードが正しくありません。"))
    return render(
        request, "relay/auth/reauth.html", {"form": form, "next": next_url, "enrolled": enrolled}
    )
