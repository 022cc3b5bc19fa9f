"""FastAPI dependencies: the request's session and the calling principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.keys import Principal
from service.auth.service import authenticate
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
PageDep = Annotated[PageRequest, Depends(page_params)]
