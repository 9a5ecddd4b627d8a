"""The rule for lawful bases that name a statutory council: only its members, only for its
purposes, only while it (and their membership) is in force.

Recording a basis asks `council_basis_check` (refused with the reason, field by field);
sending asks consent.policy, which narrows a council's basis to the members at that moment.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Q
from django.utils.translation import gettext as _

from agencies.errors import InvalidInput
from agencies.models import Agency
from consent.models import COUNCIL_BASIS, COUNCIL_PURPOSES, Council, CouncilKind


def councils_in_force(*, municipality: str, at: datetime) -> list[Council]:
    """The councils of a municipality in force at `at`, members prefetched."""
    return list(
        Council.objects.filter(municipality=municipality, valid_from__lte=at)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=at))
        .select_related("coordinating_agency")
        .prefetch_related("members")
        .order_by("kind", "name")
    )


def council_basis_check(
    *,
    basis: str,
    council: Council | None,
    recorder: Agency,
    recipients: Iterable[Agency],
    purposes: Iterable[str],
    at: datetime,
) -> None:
    """Refuse (InvalidInput naming the field) a basis that a council cannot carry.

    A council basis (要対協, 支援会議) must name the council where the recorder's municipality
    has one of that kind in force: otherwise the basis could name any agency. A named council
    must be in force, of the basis' kind, have the recorder and every named recipient as
    members, and serve every purpose named.
    """
    kinds_for_basis = [kind for kind, b in COUNCIL_BASIS.items() if b == basis]
    if council is None:
        if kinds_for_basis and any(
            c.kind in kinds_for_basis
            for c in councils_in_force(municipality=recorder.municipality, at=at)
        ):
            raise InvalidInput(
                _("この根拠には、情報を共有する協議会を選んでください。"), field="council"
            )
        return
    if not council.in_force_at(at):
        raise InvalidInput(_("この協議会は有効期間外です。"), field="council")
    if kinds_for_basis and council.kind not in kinds_for_basis:
        raise InvalidInput(_("根拠と協議会の種別が一致しません。"), field="council")
    if council.kind == CouncilKind.SCHOOL_COMMITTEE and basis in COUNCIL_BASIS.values():
        raise InvalidInput(_("根拠と協議会の種別が一致しません。"), field="council")
    members = council.member_ids_at(at)
    if recorder.pk not in members:
        raise InvalidInput(
            _("%(agency)s は %(council)s の構成機関ではありません。")
            % {"agency": recorder.name, "council": council.name},
            field="council",
        )
    outside = [a for a in recipients if a.pk not in members]
    if outside:
        raise InvalidInput(
            _("%(agencies)s は %(council)s の構成機関ではないため、提供先にできません。")
            % {"agencies": "、".join(a.name for a in outside), "council": council.name},
            field="recipients",
        )
    allowed = set(council.purposes or COUNCIL_PURPOSES) & COUNCIL_PURPOSES
    if not set(purposes) <= allowed:
        raise InvalidInput(_("協議会の目的の範囲外です。"), field="purposes")
