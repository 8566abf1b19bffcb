"""What every request needs (the open storage, the disclosure log, the token verifier) and the dependencies
that hand it out: `Ctx`, `CurrentUser`, and role guards."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

import structlog
from fastapi import Depends, Query, Request

from adapters.access import PURPOSES, Caller
from adapters.auth import Role, TokenVerifier, Unauthenticated, User
from adapters.disclosure_log import DisclosureLog
from adapters.http.problems import Problem
from adapters.read_service import ReadService
from adapters.settings import Settings
from adapters.signing import ManifestSigner
from adapters.storage import Storage
from coordination import CoordinationService
from projections.runner import ProjectionRunner


@dataclass
class Context:
    """The service's open resources, shared by all requests."""

    settings: Settings
    storage: Storage
    log: DisclosureLog
    verifier: TokenVerifier
    signer: ManifestSigner
    projections: ProjectionRunner
    reads: ReadService

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
        raise Unauthenticated("send Authorization: Bearer <token> (make one with: samverkan token)", reason="missing")
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
# A party acting on its own information: an agency's handläggare, or the samordnare for the förbund's record.
PartyOfficer = Annotated[User, Depends(require(Role.HANDLAGGARE, Role.SAMORDNARE))]
Admin = Annotated[User, Depends(require(Role.ADMIN))]
Granskare = Annotated[User, Depends(require(Role.GRANSKARE))]


def request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "-"))


async def current_caller(
    request: Request,
    user: CurrentUser,
    purpose: Annotated[
        str | None,
        Query(
            max_length=40,
            description=f"Why you read (else X-Samverkan-Purpose, else the role's): {', '.join(PURPOSES)}",
        ),
    ] = None,
) -> Caller:
    """The caller of a read or a logged write: user, request id, and the purpose code (422 if not in the list)."""
    given = purpose if purpose is not None else request.headers.get("x-samverkan-purpose")
    return Caller.of(user, request_id(request), given)


# Reads check the role themselves (in the read door), so that a refusal by role is logged like any other.
CallerDep = Annotated[Caller, Depends(current_caller)]
