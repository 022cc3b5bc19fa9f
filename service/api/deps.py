"""FastAPI dependencies: the request's session and the calling principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.keys import Principal, Scope
from service.auth.service import authenticate, require
from service.common.pagination import PageRequest, page_params

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer mrd_...`")


async def get_session(request: Request) -> AsyncSession:
    """The one session of this request, opened and committed by ``UnitOfWorkRoute``."""
    session: AsyncSession = request.state.session
    return session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_principal(
    request: Request,
    session: SessionDep,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    principal = await authenticate(session, request.headers.get("authorization"))
    request.state.principal = principal
    request.app.state.rate_limiter.check(request, principal)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]
"""The caller, any scope: for plumbing (GraphQL's context, idempotency). Routes declare the
scope they need with one of the aliases below instead."""


class ScopeGuard:
    """A route's declared scope: authenticates (once per request: it depends on the cached
    ``get_principal``) and refuses a key without ``scope`` with 403 before the body is used.
    Services check the same scope again first thing, which is what GraphQL relies on;
    tests/test_scopes.py reads ``scope`` off every route and checks both agree."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def __call__(self, principal: PrincipalDep) -> Principal:
        require(principal, self.scope)
        return principal


ReadPrincipal = Annotated[Principal, Depends(ScopeGuard(Scope.READ))]
WritePrincipal = Annotated[Principal, Depends(ScopeGuard(Scope.WRITE))]
IngestPrincipal = Annotated[Principal, Depends(ScopeGuard(Scope.INGEST))]
AdminPrincipal = Annotated[Principal, Depends(ScopeGuard(Scope.ADMIN))]
ScimPrincipal = Annotated[Principal, Depends(ScopeGuard(Scope.SCIM))]
PageDep = Annotated[PageRequest, Depends(page_params)]
