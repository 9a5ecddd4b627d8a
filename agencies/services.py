"""Writes to the directory that must be audited: staff memberships and their roles, and an
agency's security policy (second factors, viewers and 要配慮 sections)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from agencies.models import Agency, Membership, Role, TwoFactorPolicy
from audit.context import Actor
from audit.models import AuditAction
from audit.services import audit_record


@transaction.atomic
def membership_set(
    *, user: User, agency: Agency, role: Role | str, actor: Actor, phone: str | None = None
) -> Membership:
    """Put a user in an agency with a role (creating, moving or re-roling), audited; `phone`
    (the staff member's direct line or extension) is contact data and is saved as given."""
    role = Role(role)
    membership = Membership.objects.select_for_update().filter(user=user).first()
    if membership is not None and phone is not None and membership.phone != phone.strip():
        membership.phone = phone.strip()
        membership.save(update_fields=["phone"])
    if membership is None:
        membership = Membership.objects.create(
            user=user, agency=agency, role=role, phone=(phone or "").strip()
        )
        audit_record(
            action=AuditAction.MEMBERSHIP_CREATED,
            actor=actor,
            object_type="membership",
            object_id=membership.pk,
            detail={"user_id": user.pk, "agency_id": agency.pk, "role": role.value},
        )
        return membership
    if membership.agency_id == agency.pk and membership.role == role:
        return membership
    before = {"agency_id": membership.agency_id, "role": membership.role}
    membership.agency = agency
    membership.role = role
    membership.save(update_fields=["agency", "role"])
    audit_record(
        action=AuditAction.MEMBERSHIP_ROLE_CHANGED,
        actor=actor,
        object_type="membership",
        object_id=membership.pk,
        detail={
            "user_id": user.pk,
            "before": before,
            "after": {"agency_id": agency.pk, "role": role.value},
        },
    )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor: Actor) -> None:
    """Take a user out of their agency (and so out of its group), audited."""
    # Re-read under lock: the caller's copy may predate a move to another agency.
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    audit_record(
        action=AuditAction.MEMBERSHIP_REMOVED,
        actor=actor,
        object_type="membership",
        object_id=membership.pk,
        detail={
            "user_id": membership.user_id,
            "agency_id": membership.agency_id,
            "role": membership.role,
        },
    )
    membership.delete()


@transaction.atomic
def agency_security_policy_set(
    *, agency: Agency, actor: Actor, two_factor_policy: str, viewers_see_special_care: bool
) -> Agency:
    """An agency's supervisor sets who needs a second factor and whether viewers read the
    要配慮 sections (which then makes a second factor mandatory for them too); audited."""
    locked = Agency.objects.select_for_update().get(pk=agency.pk)
    before = {
        "two_factor_policy": locked.two_factor_policy,
        "viewers_see_special_care": locked.viewers_see_special_care,
    }
    locked.two_factor_policy = TwoFactorPolicy(two_factor_policy)
    locked.viewers_see_special_care = bool(viewers_see_special_care)
    after = {
        "two_factor_policy": str(locked.two_factor_policy),
        "viewers_see_special_care": locked.viewers_see_special_care,
    }
    if after != before:
        locked.save(update_fields=["two_factor_policy", "viewers_see_special_care", "updated_at"])
        audit_record(
            action=AuditAction.SECURITY_POLICY_CHANGED,
            actor=actor,
            object_type="agency",
            object_id=locked.pk,
            detail={"before": before, "after": after},
        )
    return locked
