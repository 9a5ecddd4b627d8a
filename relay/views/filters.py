"""Saving and deleting a person's searches of the list screens."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from agencies.actors import READERS, Staff
from agencies.errors import InvalidInput
from relay.models import ListScreen
from relay.services import filters
from relay.views.base import staff_view

SCREEN_URLS = {
    ListScreen.SHEETS: "relay:sheet-list",
    ListScreen.INBOX: "relay:inbox",
    ListScreen.OUTBOX: "relay:outbox",
}


def _screen_url(screen: str) -> str:
    return reverse(SCREEN_URLS.get(ListScreen(screen), "relay:sheet-list"))


@require_POST
@staff_view(*READERS)
def filter_save(request: HttpRequest, staff: Staff) -> HttpResponse:
    screen = request.POST.get("screen", "")
    if screen not in ListScreen.values:
        screen = ListScreen.SHEETS
    query = request.POST.get("query", "")
    try:
        saved = filters.saved_filter_save(
            staff=staff, screen=screen, name=request.POST.get("name", ""), query=query
        )
    except InvalidInput as exc:
        messages.error(request, str(exc))
        return redirect(f"{_screen_url(screen)}?{query}")
    messages.success(request, _("検索条件「%(name)s」を保存しました。") % {"name": saved.name})
    return redirect(f"{_screen_url(screen)}?{saved.query}")


@require_POST
@staff_view(*READERS)
def filter_delete(request: HttpRequest, staff: Staff, filter_id: int) -> HttpResponse:
    screen = request.POST.get("screen", ListScreen.SHEETS)
    filters.saved_filter_delete(staff=staff, filter_id=filter_id)
    messages.success(request, _("保存した検索条件を削除しました。"))
    return redirect(_screen_url(screen if screen in ListScreen.values else ListScreen.SHEETS))
