"""REST for the caller's organization."""

from __future__ import annotations

from fastapi import Request, Response

from service.api.deps import AdminPrincipal, ReadPrincipal, SessionDep
from service.api.etag import IfMatch, set_etag
from service.api.uow import domain_router
from service.organizations import service
from service.organizations.schemas import OrganizationRead, OrganizationUpdate

router = domain_router(tags=["organization"])


@router.get("/organization", operation_id="getOrganization")
async def get_organization(
    session: SessionDep, principal: ReadPrincipal, request: Request, response: Response
) -> OrganizationRead:
    """The organization the API key belongs to, with its settings."""
    org = await service.get_organization(session, principal)
    read = OrganizationRead.model_validate(org)
    set_etag(response, request, org, read)
    return read


@router.patch("/organization", operation_id="updateOrganization")
async def update_organization(
    session: SessionDep,
    principal: AdminPrincipal,
    body: OrganizationUpdate,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> OrganizationRead:
    """Change the organization's settings (admin scope), e.g. `orphan_policy`."""
    org = await service.update_organization(session, principal, body, if_match)
    read = OrganizationRead.model_validate(org)
    set_etag(response, request, org, read)
    return read
