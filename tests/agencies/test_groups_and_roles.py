"""Each agency has its own group; memberships keep users in exactly their agency's group."""

from __future__ import annotations

import pytest

from agencies.models import Membership, Role
from agencies.services import membership_remove, membership_set
from audit.models import AuditAction, AuditEvent
from tests.factories import AgencyFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_agency_gets_its_own_group_named_after_its_slug() -> None:
    agency = AgencyFactory(slug="adachi-desk")
    assert agency.group.name == "agency:adachi-desk"
    agency.slug = "adachi-welfare"
    agency.save()
    agency.group.refresh_from_db()
    assert agency.group.name == "agency:adachi-welfare"


def test_membership_puts_user_in_exactly_one_agency_group(system_actor) -> None:
    first, second = AgencyFactory(), AgencyFactory()
    user = UserFactory()
    membership_set(user=user, agency=first, role=Role.COUNSELOR, actor=system_actor)
    assert list(user.groups.values_list("name", flat=True)) == [first.group.name]

    membership_set(user=user, agency=second, role=Role.COUNSELOR, actor=system_actor)
    assert list(user.groups.values_list("name", flat=True)) == [second.group.name]

    membership_remove(membership=user.membership, actor=system_actor)
    assert not user.groups.exists()
    assert not Membership.objects.filter(user=user).exists()


def test_role_changes_are_audited_with_before_and_after(system_actor) -> None:
    agency = AgencyFactory()
    user = UserFactory()
    membership = membership_set(user=user, agency=agency, role="counselor", actor=system_actor)
    membership_set(user=user, agency=agency, role="counselor", actor=system_actor)  # no change
    membership_set(user=user, agency=agency, role=Role.SUPERVISOR, actor=system_actor)

    events = list(AuditEvent.objects.filter(object_type="membership", object_id=str(membership.pk)))
    assert [e.action for e in events] == [
        AuditAction.MEMBERSHIP_CREATED,
        AuditAction.MEMBERSHIP_ROLE_CHANGED,
    ]
    assert events[1].detail["before"]["role"] == "counselor"
    assert events[1].detail["after"]["role"] == "supervisor"
    membership.refresh_from_db()
    assert membership.is_supervisor


def test_unknown_role_is_refused_and_nothing_is_written(system_actor) -> None:
    agency, user = AgencyFactory(), UserFactory()
    with pytest.raises(ValueError):
        membership_set(user=user, agency=agency, role="admin", actor=system_actor)
    assert not Membership.objects.exists()
    assert not AuditEvent.objects.exists()
