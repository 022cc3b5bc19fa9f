"""Rows of ``repository.tree_rows`` and ``walk_rows`` to a graph of nodes with roll-ups,
pace and health.

Pure (no I/O): the rules are those of ``graph.py`` and ``goals/pace.py``; this is the hot
path that applies them to a tree of thousands of rows, so each row is unpacked once, in
``repository.TREE_COLUMNS`` (or ``WALK_COLUMNS``) order, and each node is made of a few
plain dataclasses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from service.alignment.graph import (
    LINK_KINDS,
    ROLLUPS,
    Edge,
    Health,
    KpiSignal,
    NodeInput,
    Rolled,
    Rollup,
    health,
    own,
    pace_health,
    roll_up,
)
from service.common.gc import collector_paused
from service.config import get_settings
from service.goals.pace import Pace, expected_progress, pace_at
from service.goals.progress import Progress

T = TypeVar("T")
_KEY_RESULTS = Rollup.KEY_RESULTS


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
    """The ``shape`` that keeps the graph itself (GraphQL serves its objects)."""
    return graph


def shape_graph(
    rows: Sequence[Any], now: datetime, shape: Callable[[Graph], T], read: Reader | None = None
) -> T:
    """Build the graph from the rows as ``read`` reads them (default ``read_rows``) and shape
    it (REST: encode it) with the collector paused throughout: when the graph dies inside
    the block (only the bytes survive) the collector never scans its objects. Paused for
    the build alone, the first allocation after it collected the young generation, the
    whole live graph, and promoted it (about 2 ms for 1,000 nodes)."""
    with collector_paused():
        return shape(build_graph(rows, now, read))


# What a shown row keeps for its node until the roll-up is done.
_Shown = tuple[str, str, Any, Any, Any, str, Rollup, Any, Any, Any, list[KpiSignal]]
_SHOWN_DEPTH = 7  # the depth's place in ``_Shown``
# What a reader makes of rows: roll-up inputs by id of the nodes that roll up children,
# every link read, the shown nodes, and the nodes rolled up already (those that count their
# key results only: ``roll_up``'s ``done``).
Read = tuple[dict[str, NodeInput], list[Edge], list[_Shown], dict[str, Rolled]]
Reader = Callable[[Sequence[Any]], Read]


def build_graph(rows: Sequence[Any], now: datetime, read: Reader | None = None) -> Graph:
    """Nodes with roll-ups, pace and health, and the edges between shown nodes."""
    inputs, edges, shown, leaves = (read or read_rows)(rows)
    rolled = roll_up(inputs, edges, leaves)
    settings = get_settings()
    on_track, at_risk = settings.pace_on_track, settings.pace_at_risk
    cycles: dict[Any, tuple[str, float]] = {}  # id as a string and expected share, per cycle
    nodes: list[Node] = []
    for ident, title, cycle_id, team_id, owner_id, status, rollup, depth, start, end, kpis in shown:
        node_rolled = rolled[ident]
        progress = node_rolled.progress
        cycle = cycles.get(cycle_id)
        if cycle is None:
            cycle = cycles[cycle_id] = (str(cycle_id), expected_progress(start, end, now))
        node_pace = pace_at(
            progress.value,
            cycle[1],
            has_check_ins=node_rolled.started,
            on_track=on_track,
            at_risk=at_risk,
        )
        nodes.append(
            Node(
                ident,
                title,
                cycle[0],
                None if team_id is None else str(team_id),
                None if owner_id is None else str(owner_id),
                status,
                rollup,
                depth,
                progress,
                node_pace,
                health(node_pace.status, kpis) if kpis else pace_health(node_pace.status),
            )
        )
    ids = {node.id for node in nodes}
    visible = [e for e in edges if e.parent_id in ids and e.child_id in ids]
    return Graph(nodes, visible)


def read_rows(rows: Sequence[Any]) -> Read:
    """Roll-up inputs keyed by the objectives' ids as strings, in the rows' order; every
    child link; what each shown row needs for its node; and the nodes that count their key
    results only, rolled up."""
    inputs: dict[str, NodeInput] = {}
    leaves: dict[str, Rolled] = {}
    edges: list[Edge] = []
    shown: list[_Shown] = []
    kinds, rollups = LINK_KINDS, ROLLUPS
    for (
        object_id, title, cycle_id, team_id, owner_id, status, rollup, value, raw, started,
        start_date, end_date, is_shown, depth, kr_weight, child_ids, child_weights,
        child_kinds, kpi_ids, kpi_states, kpi_severities,
    ) in rows:  # fmt: skip
        ident = str(object_id)
        node_rollup = rollups[rollup]
        if node_rollup is _KEY_RESULTS:
            leaves[ident] = own(value, raw, kr_weight, started)
        else:
            inputs[ident] = NodeInput(ident, node_rollup, value, raw, kr_weight, started)
        if child_ids:
            for child, weight, kind in zip(child_ids, child_weights, child_kinds, strict=True):
                edges.append(Edge(ident, str(child), weight, kinds[kind]))
        if is_shown:
            kpis = signals(kpi_ids, kpi_states, kpi_severities) if kpi_ids else []
            shown.append(
                (ident, title, cycle_id, team_id, owner_id, status, node_rollup, depth,
                 start_date, end_date, kpis)
            )  # fmt: skip
    return inputs, edges, shown, leaves


def read_walk(rows: Sequence[Any]) -> Read:
    """``read_rows`` for ``repository.WALK_SQL``: one row per link walked, the child's
    objective on it. A node is read from its first row and shown at its shallowest depth
    (rows without a depth are below the limit: read for roll-ups, not shown); a link read
    twice (walked from a node reached at two depths) counts once. Only a node read again
    can bring a link read before, so only those rows are checked (a tree has none)."""
    inputs: dict[str, NodeInput] = {}
    leaves: dict[str, Rolled] = {}
    edges: list[Edge] = []
    first_parent: dict[str, str | None] = {}  # the link a node was first read on
    links: set[tuple[str, str]] = set()  # links to nodes read again
    shown: dict[str, _Shown] = {}
    kinds, rollups = LINK_KINDS, ROLLUPS
    for (
        object_id, title, cycle_id, team_id, owner_id, status, rollup, value, raw, started,
        start_date, end_date, depth, kr_weight, parent_id, weight, kind,
        kpi_ids, kpi_states, kpi_severities,
    ) in rows:  # fmt: skip
        ident = str(object_id)
        parent = None if parent_id is None else str(parent_id)
        node_rollup = rollups[rollup]
        if ident not in first_parent:
            first_parent[ident] = parent
            if node_rollup is _KEY_RESULTS:
                leaves[ident] = own(value, raw, kr_weight, started)
            else:
                inputs[ident] = NodeInput(ident, node_rollup, value, raw, kr_weight, started)
            if parent is not None:
                edges.append(Edge(parent, ident, weight, kinds[kind]))
        elif parent is not None and parent != first_parent[ident]:
            link = (parent, ident)
            if link not in links:
                links.add(link)
                edges.append(Edge(parent, ident, weight, kinds[kind]))
        if depth is None:
            continue
        known = shown.get(ident)
        if known is None or depth < known[_SHOWN_DEPTH]:
            kpis = signals(kpi_ids, kpi_states, kpi_severities) if kpi_ids else []
            shown[ident] = (
                ident, title, cycle_id, team_id, owner_id, status, node_rollup, depth,
                start_date, end_date, kpis,
            )  # fmt: skip
    return inputs, edges, list(shown.values()), leaves


def signals(
    ids: Sequence[Any], states: Sequence[str], severities: Sequence[Any]
) -> list[KpiSignal]:
    """Linked KPIs' alert states as aggregated per objective by the tree statement."""
    return [KpiSignal(*kpi) for kpi in zip(ids, states, severities, strict=True)]
