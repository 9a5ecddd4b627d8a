"""Session rules on every request of a signed-in person (after authentication):

1. **Second factor.** A session of someone who needs a second factor (agencies.twofactor)
   and whose session was not verified by one is ended: no page after the password alone,
   whatever path the session came from.
2. **Idle timeout.** No request for SESSION_IDLE_TIMEOUT seconds (default 30 min) ends it.
3. **Absolute timeout.** SESSION_ABSOLUTE_TIMEOUT after sign-in (default 8 h) ends it.

An ended session is audited (auth.session_expired with the reason) and the person is sent
to sign in again (the API answers 401 as a problem document). API keys are not sessions and
are not affected.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from agencies import sessions, twofactor

# Writing the session on every request would cost a write per page; a minute is precise
# enough for a 30-minute idle timeout.
_TOUCH_EVERY = 60.0


class SessionSecurityMiddleware:
    """Ends sessions without their second factor, idle ones, and old ones."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            reason = self._reason_to_end(request, user)
            if reason:
                sessions.session_expire(request=request, reason=reason)
                return self._signed_out(request, reason)
            now = time.time()
            if now - float(request.session.get(sessions.LAST_SEEN, 0)) >= _TOUCH_EVERY:
                request.session[sessions.LAST_SEEN] = now
        return self.get_response(request)

    def _reason_to_end(self, request: HttpRequest, user: object) -> str | None:
        verified = getattr(user, "is_verified", lambda: False)()
        if not verified and twofactor.second_step_needed(user):
            return "second_factor_missing"
        now = time.time()
        security = settings.TSUNAGU_SECURITY
        last_seen = request.session.get(sessions.LAST_SEEN)
        if isinstance(last_seen, int | float) and now - last_seen > security["IDLE_SECONDS"]:
            return "idle"
        started = request.session.get(sessions.SIGNED_IN_AT)
        if isinstance(started, int | float) and now - started > security["ABSOLUTE_SECONDS"]:
            return "absolute"
        if started is None:
            # A session from before these rules (or made without the sign-in service):
            # its age counts from now.
            request.session[sessions.SIGNED_IN_AT] = now
            request.session.setdefault(sessions.LAST_SEEN, now)
        return None

    def _signed_out(self, request: HttpRequest, reason: str) -> HttpResponse:
        if request.path.startswith("/api/"):
            return JsonResponse(
                {
                    "type": getattr(
                        settings, "TSUNAGU_PROBLEM_BASE_URI", "https://tsunagu.invalid/problems/"
                    )
                    + "session-expired",
                    "title": _("セッションの有効期限が切れました。もう一度ログインしてください。"),
                    "status": 401,
                },
                status=401,
                content_type="application/problem+json",
            )
        texts = {
            "idle": _("しばらく操作がなかったため、ログアウトしました。"),
            "absolute": _("ログインから時間がたったため、ログアウトしました。"),
            "second_factor_missing": _("2段階認証が必要です。もう一度ログインしてください。"),
        }
        messages.warning(request, texts[reason])
        target = reverse("login")
        if request.method == "GET" and not request.headers.get("HX-Request"):
            target += "?" + urlencode({"next": request.get_full_path()})
        return HttpResponseRedirect(target)
