"""Alignment rules and authorization: links, linked KPIs, trees. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from service.alignment import repository
from service.alignment.build import Graph, Reader, read_rows, read_walk, shape_graph, signals
from service.alignment.graph import (
    Health,
    KpiSignal,
    Rolled,
    cycle_if_linked,
    depth_if_linked,
    health,
    roll_up,
)
from service.alignment.repository import Seed
from service.alignment.schemas import Direction, KpiLinkCreate, LinkCreate
from service.auth.keys import Principal, Scope
from service.auth.service import require
from service.common.repository import get_scoped
from service.config import get_settings
from service.errors import Conflict, NotFound, ValidationFailed
from service.goals.pace import Pace, pace
from service.goals.progress import Progress
from service.kpis.service import find_kpi
from service.models import Cycle, ObjectiveKpi, ObjectiveLink, Team
from service.models import Objective as ObjectiveRow

T = TypeVar("T")

# ---- reading ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeState:
    """What an objective shows beyond its own row: rolled-up progress, pace and health."""

    progress: Progress
    pace: Pace
    health: Health


async def tree(
    session: AsyncSession,
    principal: Principal,
    objective_id: uuid.UUID,
    direction: Direction,
    depth: int | None,
    now: datetime,
    shape: Callable[[Graph], T],
) -> T:
    """An objective and what is below (or above) it, at most ``depth`` levels away, as
    ``shape`` makes it (see ``shape_graph``)."""
    require(principal, Scope.READ)
    org = principal.organization_id
    limit = _depth(depth)
    if direction is Direction.DOWN:
        rows = await repository.walk_rows(session, org, objective_id, limit)
        read: Reader = read_walk
    else:
        rows = await repository.tree_rows(session, org, Seed.UP, objective_id, limit)
        read = read_rows
    if not rows:
        raise NotFound.of("Objective", objective_id)
    return shape_graph(rows, now, shape, read)


async def alignment(
    session: AsyncSession,
    principal: Principal,
    cycle_id: uuid.UUID | None,
    team_id: uuid.UUID | None,
    now: datetime,
    shape: Callable[[Graph], T],
) -> T:
    """The forest: every objective of the cycle (and team) with the links between them,
    as ``shape`` makes it."""
    require(principal, Scope.READ)
    org = principal.organization_id
    if cycle_id is not None and await get_scoped(session, Cycle, org, cycle_id) is None:
        raise ValidationFailed.on("cycle_id", f"There is no cycle {cycle_id}.")
    if team_id is not None and await get_scoped(session, Team, org, team_id) is None:
        raise ValidationFailed.on("team_id", f"There is no team {team_id}.")
    rows = await repository.tree_rows(session, org, Seed.FOREST, cycle_id, team_id)
    return shape_graph(rows, now, shape)


@dataclass(frozen=True)
class Standing:
    """An objective's rolled-up progress and linked KPI signals; pace and health follow
    from these and the time (``state_of``)."""

    rolled: Rolled
    kpis: list[KpiSignal]


async def standings_of(
    session: AsyncSession, organization_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Standing]:
    """Roll-ups and KPI signals of these objectives, in one statement."""
    if not ids:
        return {}
    rows = await repository.tree_rows(session, organization_id, Seed.IDS, list(ids))
    inputs, edges, _, leaves = read_rows(rows)
    rolled = roll_up(inputs, edges, leaves)
    return {
        row["id"]: Standing(
            rolled[str(row["id"])],
            signals(row["kpi_ids"], row["kpi_states"], row["kpi_severities"])
            if row["kpi_ids"]
            else [],
        )
        for row in rows
        if row["shown"]
    }


def _depth(depth: int | None) -> int:
    limit = get_settings().alignment_max_depth
    if depth is None:
        return limit
    if not 0 <= depth <= limit:
        raise ValidationFailed.on("depth", f"`depth` must be between 0 and {limit}.")
    return depth


def state_of(
    rolled: Rolled, start: date, end: date, kpis: Sequence[KpiSignal], now: datetime
) -> NodeState:
    settings = get_settings()
    rolled_pace = pace(
        rolled.progress.value,
        start,
        end,
        now,
        has_check_ins=rolled.started,
        on_track=settings.pace_on_track,
        at_risk=settings.pace_at_risk,
    )
    return NodeState(rolled.progress, rolled_pace, health(rolled_pace.status, kpis))


# ---- links -----------------------------------------------------------------------------


async def list_links(
    session: AsyncSession, principal: Principal, objective_id: uuid.UUID, *, parents: bool
) -> list[ObjectiveLink]:
    require(principal, Scope.READ)
    await _objective(session, principal, objective_id)
    return await repository.links_of(
        session, principal.organization_id, [objective_id], as_child=parents
    )


async def link_parent(
    session: AsyncSession, principal: Principal, child_id: uuid.UUID, data: LinkCreate
) -> ObjectiveLink:
    """Align ``child_id`` to ``data.parent_id``; refuses cycles (409), itself and depth
    (422)."""
    require(principal, Scope.WRITE)
    await _objective(session, principal, child_id)
    return await add_link(session, principal.organization_id, child_id, data)


async def add_link(
    session: AsyncSession, org: uuid.UUID, child_id: uuid.UUID, data: LinkCreate
) -> ObjectiveLink:
    """Check and store a link under the organization's graph lock (held until commit)."""
    if data.parent_id == child_id:  # invalid whatever the graph holds: not a conflict
        raise ValidationFailed.on("parent_id", f"Objective {child_id} cannot align to itself.")
    if await get_scoped(session, ObjectiveRow, org, data.parent_id) is None:
        raise ValidationFailed.on("parent_id", f"There is no objective {data.parent_id}.")
    await repository.lock_graph(session, org)
    if await repository.get_link(session, org, child_id, data.parent_id) is not None:
        raise Conflict(f"Objective {child_id} already aligns to {data.parent_id}.")
    pairs = await repository.neighbourhood(session, org, child_id, data.parent_id)
    children_of: dict[uuid.UUID, list[uuid.UUID]] = {}
    parents_of: dict[uuid.UUID, list[uuid.UUID]] = {}
    for parent, child in pairs:
        children_of.setdefault(parent, []).append(child)
        parents_of.setdefault(child, []).append(parent)
    cycle = cycle_if_linked(children_of, child_id, data.parent_id)
    if cycle:
        path = " -> ".join(str(ident) for ident in cycle)
        raise Conflict(f"Aligning {child_id} to {data.parent_id} would close a cycle: {path}.")
    levels = depth_if_linked(parents_of, children_of, child_id, data.parent_id)
    limit = get_settings().alignment_max_depth
    if levels > limit:
        raise ValidationFailed.on(
            "parent_id",
            f"The link would make an alignment path {levels} levels deep; at most {limit}.",
        )
    link = ObjectiveLink(
        organization_id=org,
        child_id=child_id,
        parent_id=data.parent_id,
        weight=data.weight,
        kind=data.kind.value,
    )
    await repository.add(session, link)
    return link


async def unlink_parent(
    session: AsyncSession, principal: Principal, child_id: uuid.UUID, parent_id: uuid.UUID
) -> None:
    require(principal, Scope.WRITE)
    org = principal.organization_id
    await _objective(session, principal, child_id)
    link = await repository.get_link(session, org, child_id, parent_id)
    if link is None:
        raise NotFound(f"Objective {child_id} does not align to {parent_id}.")
    await repository.remove_link(session, link)


# ---- linked KPIs -----------------------------------------------------------------------


async def list_kpi_links(
    session: AsyncSession, principal: Principal, objective_id: uuid.UUID
) -> list[ObjectiveKpi]:
    require(principal, Scope.READ)
    await _objective(session, principal, objective_id)
    return await repository.kpi_ids_of(session, principal.organization_id, [objective_id])


async def link_kpi(
    session: AsyncSession, principal: Principal, objective_id: uuid.UUID, data: KpiLinkCreate
) -> ObjectiveKpi:
    require(principal, Scope.WRITE)
    await _objective(session, principal, objective_id)
    try:
        kpi = await find_kpi(session, principal, data.kpi)
    except NotFound as exc:
        raise ValidationFailed.on("kpi", f"There is no KPI {data.kpi}.") from exc
    return await add_kpi_link(session, principal.organization_id, objective_id, kpi.id)


async def add_kpi_link(
    session: AsyncSession, org: uuid.UUID, objective_id: uuid.UUID, kpi_id: uuid.UUID
) -> ObjectiveKpi:
    if await repository.get_kpi_link(session, org, objective_id, kpi_id) is not None:
        raise Conflict(f"KPI {kpi_id} is already linked to objective {objective_id}.")
    link = ObjectiveKpi(organization_id=org, objective_id=objective_id, kpi_id=kpi_id)
    await repository.add(session, link)
    return link


async def unlink_kpi(
    session: AsyncSession, principal: Principal, objective_id: uuid.UUID, kpi_ref: str
) -> None:
    require(principal, Scope.WRITE)
    await _objective(session, principal, objective_id)
    kpi = await find_kpi(session, principal, kpi_ref)
    link = await repository.get_kpi_link(session, principal.organization_id, objective_id, kpi.id)
    if link is None:
        raise NotFound(f"KPI {kpi_ref} is not linked to objective {objective_id}.")
    await repository.remove_link(session, link)


async def _objective(session: AsyncSession, principal: Principal, ident: uuid.UUID) -> ObjectiveRow:
    row = await get_scoped(session, ObjectiveRow, principal.organization_id, ident)
    if row is None:
        raise NotFound.of("Objective", ident)
    return row
