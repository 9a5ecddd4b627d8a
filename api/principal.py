"""Who is calling the API: a partner system (an APIPrincipal) or a staff member's session.

`request.user` is an `APIPrincipal` after key authentication and a Django user after session
authentication; these helpers answer the questions views ask of either.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import PermissionDenied

from agencies.actors import Staff
from agencies.models import Agency, Membership
from api.language import bilingual
from api.models import APIKey
from audit.context import Actor, ActorKind


class APIPrincipal:
    """An agency's partner system, authenticated by one of the agency's API keys."""

    is_authenticated = True
    is_anonymous = False
    is_active = True

    def __init__(self, key: APIKey) -> None:
        self.key = key

    def __repr__(self) -> str:
        return f"<APIPrincipal {self.label} agency={self.key.agency_id}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, APIPrincipal) and other.key.pk == self.key.pk

    def __hash__(self) -> int:
        return hash(("api_key", self.key.pk))

    @property
    def agency(self) -> Agency:
        return self.key.agency

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.key.scopes)

    @property
    def label(self) -> str:
        return f"api:{self.key.prefix}"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def audit_actor(self) -> Actor:
        return Actor(
            kind=ActorKind.API_CLIENT,
            agency_id=self.key.agency_id,
            api_key_id=self.key.pk,
            label=self.label,
        )


def user_membership(user: Any) -> Membership | None:
    """The staff member's membership, or None (anonymous, or a user in no agency)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    try:
        return user.membership
    except Membership.DoesNotExist:
        return None


def user_actor(user: Any) -> Actor:
    """The audit actor for a staff member (admin screens, session API calls)."""
    membership = user_membership(user)
    return Actor(
        kind=ActorKind.USER,
        user_id=user.pk,
        agency_id=membership.agency_id if membership else None,
        label=user.get_username(),
    )


def principal_agency(request: Any) -> Agency | None:
    """The agency the caller acts for: the key's agency, the user's membership's, or None."""
    user = getattr(request, "user", None)
    if isinstance(user, APIPrincipal):
        return user.agency
    membership = user_membership(user)
    return membership.agency if membership else None


def principal_agency_required(request: Any) -> Agency:
    """principal_agency for views behind HasScope, which refuses callers without an agency."""
    agency = principal_agency(request)
    if agency is None:
        raise PermissionDenied(
            bilingual(
                "機関に所属していないアカウントでは利用できません。",
                "This account does not belong to an agency.",
            ),
            code="no_membership",
        )
    return agency


def principal_actor(request: Any) -> Actor:
    """The audit actor for the caller of an authenticated API request."""
    user = request.user
    if isinstance(user, APIPrincipal):
        return user.audit_actor()
    if user is None or not user.is_authenticated:
        return Actor(kind=ActorKind.ANONYMOUS)
    return user_actor(user)


def principal_id(request: Any) -> str | None:
    """A stable id for the caller ("key:<id>" or "user:<id>"), for rate limits and idempotency."""
    user = getattr(request, "user", None)
    if isinstance(user, APIPrincipal):
        return f"key:{user.key.pk}"
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return None


def principal_staff(request: Any) -> Staff:
    """The caller as the workflow's services see it: an API key with its scopes, or a user
    with their role (agencies.errors.NotAllowed for a user in no agency)."""
    user = request.user
    if isinstance(user, APIPrincipal):
        return Staff.for_api_key(
            agency=user.agency, api_key_id=user.key.pk, scopes=user.scopes, label=user.label
        )
    return Staff.for_user(user)
