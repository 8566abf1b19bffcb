"""What every request needs (the open storage, the disclosure log, the token verifier) and the dependencies
that hand it out: `Ctx`, `CurrentUser`, and role guards."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

import structlog
from fastapi import Depends, Request

from adapters.auth import Role, TokenVerifier, Unauthenticated, User
from adapters.disclosure_log import Actor, DisclosureLog
from adapters.http.problems import Problem
from adapters.settings import Settings
from adapters.signing import ManifestSigner
from adapters.storage import Storage
from coordination import CoordinationService
from projections.runner import ProjectionRunner

DEFAULT_PURPOSE = {
    Role.SAMORDNARE: "samordning",
    Role.HANDLAGGARE: "handlaggning",
    Role.GRANSKARE: "granskning",
    Role.ADMIN: "drift",
}


@dataclass
class Context:
    """The service's open resources, shared by all requests."""

    settings: Settings
    storage: Storage
    log: DisclosureLog
    verifier: TokenVerifier
    signer: ManifestSigner
    projections: ProjectionRunner

    @property
    def service(self) -> CoordinationService:
        return self.storage.service


async def get_context(request: Request) -> Context:
    context: Context = request.app.state.context
    return context


async def current_user(request: Request) -> User:
    """The caller from the bearer token; agency and role come only from the token."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send Authorization: Bearer <token> (make one with: samverkan token)")
    # async: these dependencies do no I/O, so they run on the event loop instead of a thread hand-off each.
    context: Context = request.app.state.context
    user = context.verifier.verify(token.strip())
    request.state.user = user
    structlog.contextvars.bind_contextvars(user_id=user.sub, agency=user.agency.value, role=user.role.value)
    return user


Ctx = Annotated[Context, Depends(get_context)]
CurrentUser = Annotated[User, Depends(current_user)]


def require(*roles: Role) -> Callable[[User], Awaitable[User]]:
    """A dependency that lets only the given roles through (403 forbidden otherwise)."""
    allowed = ", ".join(r.value for r in roles)

    async def guard(user: CurrentUser) -> User:
        if user.role not in roles:
            raise Problem("forbidden", f"this needs one of the roles: {allowed}")
        return user

    return guard


Samordnare = Annotated[User, Depends(require(Role.SAMORDNARE))]
Handlaggare = Annotated[User, Depends(require(Role.HANDLAGGARE))]
Reader = Annotated[User, Depends(require(Role.SAMORDNARE, Role.HANDLAGGARE))]
Granskare = Annotated[User, Depends(require(Role.GRANSKARE))]
Admin = Annotated[User, Depends(require(Role.ADMIN))]
StatisticsReader = Annotated[User, Depends(require(Role.SAMORDNARE, Role.GRANSKARE))]


def actor(user: User) -> Actor:
    """The user as the disclosure log records them (ids only)."""
    return Actor(user.sub, user.agency.value, user.role.value)


def request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "-"))


def purpose(request: Request, user: User) -> str:
    """Why the caller reads: the X-Samverkan-Purpose header, or the role's default purpose."""
    given = request.headers.get("x-samverkan-purpose", "").strip()
    if given:
        if len(given) > 100 or not given.replace("-", "").replace("_", "").replace(" ", "").isalnum():  # noqa: PLR2004
            raise Problem("validation-error", "X-Samverkan-Purpose must be a short code (letters, digits, -, _)")
        return given
    return DEFAULT_PURPOSE[user.role]
