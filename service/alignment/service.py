"""Alignment rules and authorization: links, linked KPIs, trees. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from service.alignment import repository
from service.alignment.graph import (
    LINK_KINDS,
    ROLLUPS,
    Edge,
    Health,
    KpiSignal,
    NodeInput,
    Rolled,
    Rollup,
    cycle_if_linked,
    depth_if_linked,
    health,
    pace_health,
    roll_up,
)
from service.alignment.repository import Seed
from service.alignment.schemas import Direction, KpiLinkCreate, LinkCreate
from service.auth.keys import Principal, Scope
from service.auth.service import require
from service.common.gc import collector_paused
from service.common.repository import get_scoped
from service.config import get_settings
from service.errors import Conflict, NotFound, ValidationFailed
from service.goals.pace import Pace, expected_progress, pace, pace_at
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


@dataclass
class Node:
    """One objective of a tree or forest, exactly the fields of ``AlignmentNodeRead`` and
    GraphQL's ``AlignmentNode``: ``orjson`` encodes it (and ``Progress``, ``Pace``,
    ``Health``) as the REST node, GraphQL reads its attributes. A plain dataclass, never
    changed once made (quicker to make than a named tuple or a frozen dataclass). Ids are
    strings: a forest encodes 400,000 of them, converted once."""

    id: str
    title: str
    cycle_id: str
    team_id: str | None
    owner_id: str | None
    status: str
    rollup: Rollup
    depth: int | None
    progress: Progress
    pace: Pace
    health: Health


@dataclass(frozen=True)
class Graph:
    nodes: list[Node]
    edges: list[Edge]


def as_graph(graph: Graph) -> Graph:
    """The ``shape`` that keeps the graph itself (GraphQL serves its tuples)."""
    return graph


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
    seed = Seed.DOWN if direction is Direction.DOWN else Seed.UP
    rows = await repository.tree_rows(session, org, seed, objective_id, limit)
    if not rows:
        raise NotFound.of("Objective", objective_id)
    return shape_graph(rows, now, shape)


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


def shape_graph(rows: Sequence[Any], now: datetime, shape: Callable[[Graph], T]) -> T:
    """Build the graph and shape it (REST: encode it) with the collector paused throughout:
    when the graph dies inside the block (only the bytes survive) the collector never scans
    its objects. Paused for the build alone, the first allocation after it collected the
    young generation, the whole live graph, and promoted it (about 2 ms for 1,000 nodes)."""
    with collector_paused():
        return shape(build_graph(rows, now))


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
    rolled = roll_up(*_graph_inputs(rows))
    return {
        row["id"]: Standing(rolled[str(row["id"])], _signals(row)) for row in rows if row["shown"]
    }


def _depth(depth: int | None) -> int:
    limit = get_settings().alignment_max_depth
    if depth is None:
        return limit
    if not 0 <= depth <= limit:
        raise ValidationFailed.on("depth", f"`depth` must be between 0 and {limit}.")
    return depth


def build_graph(rows: Sequence[Any], now: datetime) -> Graph:
    """Rows of ``repository.tree_rows`` to nodes with roll-ups, pace and health (pure)."""
    inputs, edges = _graph_inputs(rows)
    rolled = roll_up(inputs, edges)
    settings = get_settings()
    on_track, at_risk = settings.pace_on_track, settings.pace_at_risk
    cycles: dict[Any, tuple[str, float]] = {}  # id as a string and expected share, per cycle
    nodes: list[Node] = []
    for row, ident in zip(rows, inputs, strict=True):
        if not row["shown"]:
            continue
        progress, started = rolled[ident]
        cycle = row["cycle_id"]
        known = cycles.get(cycle)
        if known is None:
            share = expected_progress(row["start_date"], row["end_date"], now)
            known = cycles[cycle] = (str(cycle), share)
        node_pace = pace_at(
            progress.value, known[1], has_check_ins=started, on_track=on_track, at_risk=at_risk
        )
        team, owner, kpis = row["team_id"], row["owner_id"], row["kpi_ids"]
        nodes.append(
            Node(
                ident,
                row["title"],
                known[0],
                None if team is None else str(team),
                None if owner is None else str(owner),
                row["status"],
                ROLLUPS[row["rollup"]],
                row["depth"],
                progress,
                node_pace,
                health(node_pace.status, _signals(row)) if kpis else pace_health(node_pace.status),
            )
        )
    shown = {node.id for node in nodes}
    visible = [e for e in edges if e.parent_id in shown and e.child_id in shown]
    return Graph(nodes, visible)


def _graph_inputs(rows: Sequence[Any]) -> tuple[dict[str, NodeInput], list[Edge]]:
    """Roll-up inputs keyed by the objectives' ids as strings, in the rows' order, and every
    child link."""
    inputs: dict[str, NodeInput] = {}
    edges: list[Edge] = []
    kinds = LINK_KINDS
    for row in rows:
        ident = str(row["id"])
        inputs[ident] = NodeInput(
            ident,
            ROLLUPS[row["rollup"]],
            row["progress_value"],
            row["progress_raw"],
            row["kr_weight"],
            row["started"],
        )
        children = row["child_ids"]
        if children:
            for child, weight, kind in zip(
                children, row["child_weights"], row["child_kinds"], strict=True
            ):
                edges.append(Edge(ident, str(child), weight, kinds[kind]))
    return inputs, edges


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


def _signals(row: Any) -> list[KpiSignal]:
    if not row["kpi_ids"]:
        return []
    return [
        KpiSignal(kpi, state, severity)
        for kpi, state, severity in zip(
            row["kpi_ids"], row["kpi_states"], row["kpi_severities"], strict=True
        )
    ]


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
    """Align ``child_id`` to ``data.parent_id``; refuses cycles (409) and depth (422)."""
    require(principal, Scope.WRITE)
    await _objective(session, principal, child_id)
    return await add_link(session, principal.organization_id, child_id, data)


async def add_link(
    session: AsyncSession, org: uuid.UUID, child_id: uuid.UUID, data: LinkCreate
) -> ObjectiveLink:
    """Check and store a link under the organization's graph lock (held until commit)."""
    if await get_scoped(session, ObjectiveRow, org, data.parent_id) is None:
        raise ValidationFailed.on("parent_id", f"There is no objective {data.parent_id}.")
    if data.parent_id == child_id:
        raise Conflict(f"Objective {child_id} cannot align to itself.")
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
