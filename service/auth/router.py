"""REST for API keys (admin scope)."""

from __future__ import annotations

import uuid

from fastapi import Response, status

from service.api.deps import AdminPrincipal, PageDep, SessionDep
from service.api.uow import domain_router
from service.auth import service
from service.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from service.common.schemas import Page

router = domain_router(tags=["api-keys"])


@router.get("/api-keys", operation_id="listApiKeys")
async def list_api_keys(
    session: SessionDep, principal: AdminPrincipal, page: PageDep
) -> Page[ApiKeyRead]:
    """The organization's keys, revoked ones included; never the keys themselves."""
    rows, next_cursor = await service.list_api_keys(session, principal, page)
    return Page(items=[ApiKeyRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post("/api-keys", status_code=status.HTTP_201_CREATED, operation_id="createApiKey")
async def create_api_key(
    session: SessionDep, principal: AdminPrincipal, body: ApiKeyCreate, response: Response
) -> ApiKeyCreated:
    """Create a key. The response carries the key once; only its hash is kept."""
    key, row = await service.create_api_key(session, principal, body)
    response.headers["Cache-Control"] = "no-store"
    return ApiKeyCreated.model_validate({**ApiKeyRead.model_validate(row).model_dump(), "key": key})


@router.delete(
    "/api-keys/{api_key_id}", status_code=status.HTTP_204_NO_CONTENT, operation_id="revokeApiKey"
)
async def revoke_api_key(
    session: SessionDep, principal: AdminPrincipal, api_key_id: uuid.UUID
) -> None:
    """Revoke a key at once. The organization's last admin key cannot be revoked."""
    await service.revoke_api_key(session, principal, api_key_id)
