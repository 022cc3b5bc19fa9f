"""REST for alignment: parents, linked KPIs, trees and the forest. Thin."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Response, status

from service.alignment import service
from service.alignment.schemas import (
    AlignmentRead,
    Direction,
    KpiLinkCreate,
    KpiLinkRead,
    LinkCreate,
    LinkRead,
)
from service.alignment.views import graph_json
from service.api.deps import ReadPrincipal, SessionDep, WritePrincipal
from service.api.uow import domain_router
from service.models.base import utcnow

router = domain_router(tags=["alignment"])


@router.get("/objectives/{objective_id}/parents", operation_id="listObjectiveParents")
async def list_parents(
    session: SessionDep, principal: ReadPrincipal, objective_id: uuid.UUID
) -> list[LinkRead]:
    """The objectives this one aligns to, with the link's weight and kind."""
    links = await service.list_links(session, principal, objective_id, parents=True)
    return [LinkRead.model_validate(link) for link in links]


@router.get("/objectives/{objective_id}/children", operation_id="listObjectiveChildren")
async def list_children(
    session: SessionDep, principal: ReadPrincipal, objective_id: uuid.UUID
) -> list[LinkRead]:
    """The objectives aligned to this one, with the link's weight and kind."""
    links = await service.list_links(session, principal, objective_id, parents=False)
    return [LinkRead.model_validate(link) for link in links]


@router.post(
    "/objectives/{objective_id}/parents",
    status_code=status.HTTP_201_CREATED,
    operation_id="linkObjectiveParent",
)
async def link_parent(
    session: SessionDep, principal: WritePrincipal, objective_id: uuid.UUID, body: LinkCreate
) -> LinkRead:
    """Align this objective to a parent (any team or cycle; several parents allowed).
    A link that would close a cycle is a `409` naming the path; one to the objective itself,
    or one deeper than `MERIDIAN_ALIGNMENT_MAX_DEPTH` levels, is a `422`."""
    link = await service.link_parent(session, principal, objective_id, body)
    return LinkRead.model_validate(link)


@router.delete(
    "/objectives/{objective_id}/parents/{parent_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="unlinkObjectiveParent",
)
async def unlink_parent(
    session: SessionDep, principal: WritePrincipal, objective_id: uuid.UUID, parent_id: uuid.UUID
) -> None:
    """Remove the link from this objective to a parent."""
    await service.unlink_parent(session, principal, objective_id, parent_id)


@router.get("/objectives/{objective_id}/kpis", operation_id="listObjectiveKpis")
async def list_kpis(
    session: SessionDep, principal: ReadPrincipal, objective_id: uuid.UUID
) -> list[KpiLinkRead]:
    """The KPIs this objective stands on."""
    links = await service.list_kpi_links(session, principal, objective_id)
    return [KpiLinkRead.model_validate(link) for link in links]


@router.post(
    "/objectives/{objective_id}/kpis",
    status_code=status.HTTP_201_CREATED,
    operation_id="linkObjectiveKpi",
)
async def link_kpi(
    session: SessionDep, principal: WritePrincipal, objective_id: uuid.UUID, body: KpiLinkCreate
) -> KpiLinkRead:
    """Link a KPI (by id or key): its alert state then shows in the objective's `health`."""
    link = await service.link_kpi(session, principal, objective_id, body)
    return KpiLinkRead.model_validate(link)


@router.delete(
    "/objectives/{objective_id}/kpis/{kpi_ref}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="unlinkObjectiveKpi",
)
async def unlink_kpi(
    session: SessionDep, principal: WritePrincipal, objective_id: uuid.UUID, kpi_ref: str
) -> None:
    """Unlink a KPI (by id or key) from the objective."""
    await service.unlink_kpi(session, principal, objective_id, kpi_ref)


@router.get(
    "/objectives/{objective_id}/tree",
    operation_id="getObjectiveTree",
    response_model=AlignmentRead,
)
async def get_tree(
    session: SessionDep,
    principal: ReadPrincipal,
    objective_id: uuid.UUID,
    direction: Annotated[Direction, Query(description="`down` to children, `up` to parents.")] = (
        Direction.DOWN
    ),
    depth: Annotated[
        int | None, Query(description="Levels to show; defaults to the configured maximum.")
    ] = None,
) -> Response:
    """The objective and what aligns to it (`down`) or what it aligns to (`up`), as flat
    `nodes` (rolled-up progress, pace, health) and `edges`, read in one statement."""
    body = await service.tree(
        session, principal, objective_id, direction, depth, utcnow(), graph_json
    )
    return Response(body, media_type="application/json")


@router.get("/alignment", operation_id="getAlignment", response_model=AlignmentRead)
async def get_alignment(
    session: SessionDep,
    principal: ReadPrincipal,
    cycle_id: Annotated[
        uuid.UUID | None, Query(description="Only this cycle's objectives.")
    ] = None,
    team_id: Annotated[uuid.UUID | None, Query(description="Only this team's objectives.")] = None,
) -> Response:
    """The whole forest: every objective (of a cycle, of a team) with rolled-up progress,
    pace and health, and the links between them. Roll-ups count contributing children in
    other cycles or teams too."""
    body = await service.alignment(session, principal, cycle_id, team_id, utcnow(), graph_json)
    return Response(body, media_type="application/json")
