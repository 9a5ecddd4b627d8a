"""A recipient chosen by a routing desk: the rules of that part of a consent record's scope."""

from __future__ import annotations

from collections.abc import Iterable

from agencies.errors import InvalidInput
from agencies.models import Agency, AgencyKind, RoutingDesk
from consent.models import Decision


def routing_scope_clean(
    *, desk: Agency | None, kinds: Iterable[str], decision: str
) -> tuple[Agency | None, list[str]]:
    """The desk and the kinds it may choose among, checked: the desk is a routing desk, the
    kinds are among those it routes to, and only a permission names a desk (a refusal names
    the agencies or kinds it refuses)."""
    kind_list = sorted(set(kinds))
    if desk is None:
        if kind_list:
            raise InvalidInput("振り分け窓口を選んでください。", field="routing_desk")
        return None, []
    routing = RoutingDesk.objects.filter(agency=desk).first()
    if routing is None:
        raise InvalidInput("この機関は振り分け窓口ではありません。", field="routing_desk")
    if decision != Decision.PERMIT:
        raise InvalidInput("拒否の記録には振り分け窓口を指定できません。", field="routing_desk")
    if not kind_list:
        raise InvalidInput("窓口がつなぐ先の種別を1つ以上選んでください。", field="routing_kinds")
    if not set(kind_list) <= set(AgencyKind.values) or not set(kind_list) <= set(
        routing.routable_kinds
    ):
        raise InvalidInput(
            "この窓口がつなぐことのできない種別が含まれています。", field="routing_kinds"
        )
    return desk, kind_list
