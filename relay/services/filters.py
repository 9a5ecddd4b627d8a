"""A person's saved searches of the list screens: their own preference, seen by nobody else."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from django.core.exceptions import ValidationError
from django.db import transaction

from agencies.actors import Staff
from agencies.errors import InvalidInput, NotFound
from relay.models import ListScreen, SavedFilter

MAX_SAVED_PER_SCREEN = 20


def _clean_query(query: str) -> str:
    """Only the filter parameters, re-encoded (no page number, nothing that is not a pair)."""
    pairs = parse_qsl(query.lstrip("?"), keep_blank_values=False)
    return urlencode([(key, value) for key, value in pairs if key != "page"])


@transaction.atomic
def saved_filter_save(*, staff: Staff, screen: str, name: str, query: str) -> SavedFilter:
    """Save (or replace, by name) the current filters of a list screen for this person."""
    if staff.user is None:
        raise InvalidInput(field="name")
    if screen not in ListScreen.values:
        raise InvalidInput(field="screen")
    name = name.strip()
    if not name:
        raise InvalidInput("名前を入力してください。", field="name")
    existing = SavedFilter.objects.filter(user=staff.user, screen=screen)
    if existing.count() >= MAX_SAVED_PER_SCREEN and not existing.filter(name=name).exists():
        raise InvalidInput("保存できる検索条件は20件までです。", field="name")
    saved = existing.filter(name=name).first() or SavedFilter(user=staff.user, screen=screen)
    saved.name = name
    saved.query = _clean_query(query)
    try:
        saved.full_clean()
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise InvalidInput(messages[0], field=field) from exc
    saved.save()
    return saved


@transaction.atomic
def saved_filter_delete(*, staff: Staff, filter_id: int) -> None:
    """Delete one of this person's saved filters (another person's is not found)."""
    deleted, _rows = SavedFilter.objects.filter(pk=filter_id, user=staff.user).delete()
    if not deleted:
        raise NotFound()
