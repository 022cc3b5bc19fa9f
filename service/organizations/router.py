"""REST for the caller's organization."""

from __future__ import annotations

from service.api.deps import AdminPrincipal, ReadPrincipal, SessionDep
from service.api.uow import domain_router
from service.organizations import service
from service.organizations.schemas import OrganizationRead, OrganizationUpdate

router = domain_router(tags=["organization"])


@router.get("/organization", operation_id="getOrganization")
async def get_organization(session: SessionDep, principal: ReadPrincipal) -> OrganizationRead:
    """The organization the API key belongs to, with its settings."""
    return OrganizationRead.model_validate(await service.get_organization(session, principal))


@router.patch("/organization", operation_id="updateOrganization")
async def update_organization(
    session: SessionDep, principal: AdminPrincipal, body: OrganizationUpdate
) -> OrganizationRead:
    """Change the organization's settings (admin scope), e.g. `orphan_policy`."""
    org = await service.update_organization(session, principal, body)
    return OrganizationRead.model_validate(org)
