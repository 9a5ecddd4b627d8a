"""The acting party: a staff member of an agency, or an agency's API client."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User

from agencies.errors import NotAllowed
from agencies.models import Agency, Role, membership_of
from audit.context import Actor, ActorKind


@dataclass(frozen=True)
class Staff:
    """Someone acting for an agency: a user with a role, or an API key with scopes."""

    agency: Agency
    role: Role | None
    user: User | None = None
    api_key_id: int | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    label: str = ""

    @classmethod
    def for_user(cls, user: AbstractBaseUser | AnonymousUser) -> Staff:
        if not isinstance(user, User) or not user.is_authenticated:
            raise NotAllowed()  # the anonymous user has no agency
        membership = membership_of(user)
        if membership is None:
            raise NotAllowed()
        return cls(
            agency=membership.agency,
            role=Role(membership.role),
            user=user,
            label=user.get_username(),
        )

    @classmethod
    def for_api_key(
        cls, *, agency: Agency, api_key_id: int, scopes: frozenset[str], label: str
    ) -> Staff:
        return cls(agency=agency, role=None, api_key_id=api_key_id, scopes=scopes, label=label)

    @property
    def user_id(self) -> int | None:
        return self.user.pk if self.user is not None else None

    @property
    def person(self) -> User:
        """The user behind the action, where only a person may act (not an API key)."""
        if self.user is None:
            raise NotAllowed()
        return self.user

    @property
    def is_api(self) -> bool:
        return self.api_key_id is not None

    def audit_actor(self) -> Actor:
        return Actor(
            kind=ActorKind.API_CLIENT if self.is_api else ActorKind.USER,
            user_id=self.user_id,
            agency_id=self.agency.pk,
            api_key_id=self.api_key_id,
            label=self.label,
        )

    def require_role(self, *roles: Role, api_scope: str | None = None) -> None:
        """People need one of `roles`; an API client needs `api_scope` (None: not by API)."""
        if self.is_api:
            if api_scope is None or api_scope not in self.scopes:
                raise NotAllowed()
        elif self.role not in roles:
            raise NotAllowed()


SENDERS = (Role.COUNSELOR, Role.SUPERVISOR)
RECEIVERS = (Role.INTAKE, Role.COUNSELOR, Role.SUPERVISOR)
READERS = (Role.COUNSELOR, Role.SUPERVISOR, Role.INTAKE, Role.VIEWER)
# Who may record a consent obtained from the person, or a withdrawal of it: whoever meets the
# person, the counter's intake staff included (the Adachi つなぐシート: the department that
# takes the consultation records it and obtains the consent). A lawful basis and a send stay
# with SENDERS.
CONSENT_RECORDERS = (Role.INTAKE, Role.COUNSELOR, Role.SUPERVISOR)
