"""The caller's organization: read it (read scope), change its settings (admin scope)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from service.api.etag import check_if_match
from service.auth.keys import Principal, Scope
from service.auth.service import require
from service.errors import refuse_nulls
from service.models import Organization
from service.organizations import repository
from service.organizations.schemas import OrganizationUpdate


async def get_organization(session: AsyncSession, principal: Principal) -> Organization:
    require(principal, Scope.READ)
    return await repository.get(session, principal.organization_id)


async def update_organization(
    session: AsyncSession, principal: Principal, data: OrganizationUpdate, if_match: str | None
) -> Organization:
    require(principal, Scope.ADMIN)
    org = await repository.get(session, principal.organization_id, for_update=True)
    check_if_match(if_match, org)
    changes = data.model_dump(exclude_unset=True)
    refuse_nulls(changes, ("orphan_policy",))
    if "orphan_policy" in changes:
        org.orphan_policy = str(changes["orphan_policy"])
    await session.flush()
    return org
