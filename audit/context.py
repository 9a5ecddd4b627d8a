"""Who is acting and from where: passed to every audited service call.

The audit app imports no other app of the project, so an actor is described by ids.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from enum import StrEnum


class ActorKind(StrEnum):
    USER = "user"
    API_CLIENT = "api_client"
    SYSTEM = "system"
    ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Actor:
    """A person, an API key or a system task, with the agency it acts for."""

    kind: ActorKind
    user_id: int | None = None
    agency_id: int | None = None
    api_key_id: int | None = None
    label: str = ""

    @classmethod
    def system(cls, label: str) -> Actor:
        return cls(kind=ActorKind.SYSTEM, label=label)


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    ip: str | None = None


_NO_REQUEST = RequestContext()
_request_context: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "tsunagu_request_context", default=None
)


def current_request() -> RequestContext:
    return _request_context.get() or _NO_REQUEST


def set_request(ctx: RequestContext) -> contextvars.Token[RequestContext | None]:
    return _request_context.set(ctx)


def reset_request(token: contextvars.Token[RequestContext | None]) -> None:
    _request_context.reset(token)
