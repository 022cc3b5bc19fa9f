"""Authentication and API key management."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from service.auth import repository
from service.auth.keys import (
    KEY_PREFIX,
    Principal,
    Scope,
    display_prefix,
    effective_scopes,
    generate_key,
    hash_key,
)
from service.auth.schemas import ApiKeyCreate
from service.common.pagination import PageRequest, split_page
from service.common.repository import get_many_scoped, serialize_in_organization
from service.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from service.models import ApiKey, Kpi
from service.models.base import utcnow


async def authenticate(session: AsyncSession, authorization: str | None) -> Principal:
    """Turn an ``Authorization: Bearer`` header into a principal, or refuse with 401."""
    if not authorization:
        raise Unauthorized("Send an API key as `Authorization: Bearer <key>`.")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(KEY_PREFIX) or len(token) > 200:
        raise Unauthorized("The Authorization header must be `Bearer mrd_...`.")
    key = await repository.find_active_key(session, hash_key(token))
    if key is None:
        raise Unauthorized("The API key is unknown or revoked.")
    await repository.touch_last_used(session, key, utcnow())
    return Principal(
        organization_id=key.organization_id,
        api_key_id=key.id,
        key_name=key.name,
        scopes=effective_scopes(key.scopes),
        kpi_ids=frozenset(key.kpi_ids) if key.kpi_ids is not None else None,
    )


def require(principal: Principal, scope: Scope) -> None:
    if not principal.has(scope):
        raise Forbidden(f"This API key lacks the `{scope}` scope.")


async def create_organization(session: AsyncSession, name: str) -> tuple[uuid.UUID, str]:
    """A new tenant with its first admin key; returns the key in clear, once."""
    org = await repository.add_organization(session, name)
    key, _ = await _new_key(session, org.id, "bootstrap admin", [Scope.ADMIN])
    return org.id, key


async def create_api_key(
    session: AsyncSession, principal: Principal, data: ApiKeyCreate
) -> tuple[str, ApiKey]:
    require(principal, Scope.ADMIN)
    if data.kpi_ids is not None:
        found = await get_many_scoped(session, Kpi, principal.organization_id, data.kpi_ids)
        missing = set(data.kpi_ids) - {k.id for k in found}
        if missing:
            raise ValidationFailed.on("kpi_ids", f"There is no KPI {sorted(map(str, missing))[0]}.")
    return await _new_key(session, principal.organization_id, data.name, data.scopes, data.kpi_ids)


async def _new_key(
    session: AsyncSession,
    organization_id: uuid.UUID,
    name: str,
    scopes: list[Scope],
    kpi_ids: list[uuid.UUID] | None = None,
) -> tuple[str, ApiKey]:
    key = generate_key()
    row = ApiKey(
        organization_id=organization_id,
        name=name,
        prefix=display_prefix(key),
        key_hash=hash_key(key),
        scopes=sorted({str(s) for s in scopes}),
        kpi_ids=sorted(set(kpi_ids)) if kpi_ids is not None else None,
    )
    return key, await repository.add_api_key(session, row)


async def list_api_keys(
    session: AsyncSession, principal: Principal, page: PageRequest
) -> tuple[list[ApiKey], str | None]:
    require(principal, Scope.ADMIN)
    rows = await repository.list_api_keys(session, principal.organization_id, page)
    return split_page(rows, page)


async def revoke_api_key(session: AsyncSession, principal: Principal, key_id: uuid.UUID) -> None:
    """Revoke a key; the last admin key cannot go, or the organization would be locked out."""
    require(principal, Scope.ADMIN)
    org = principal.organization_id
    # Lock, then decide: the key and the count are read after the lock, so a revocation
    # committed while this one waited is seen (two admin keys revoking each other at once
    # would otherwise both pass the count and leave none).
    await serialize_in_organization(session, repository.KEY_REVOCATIONS, org)
    key = await repository.get_api_key(session, org, key_id, for_update=True)
    if key is None or key.revoked_at is not None:
        raise NotFound.of("API key", key_id)
    if "admin" in key.scopes and not await repository.count_other_active_admin_keys(
        session, org, key.id
    ):
        raise Conflict("This is the organization's last admin key; create another first.")
    key.revoked_at = utcnow()
    await session.flush()
