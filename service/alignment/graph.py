"""The alignment graph's rules, pure: cycle and depth checks, weighted roll-ups, health.

Objectives form a DAG: an edge ``parent -> child`` says the child aligns to the parent.
``contributes`` edges count in the parent's roll-up with their weight; ``supports`` edges
are shown but never counted. Every rolled-up number carries its formula and inputs.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from operator import itemgetter
from typing import Any, NamedTuple

from service.goals.pace import PaceStatus
from service.goals.progress import Progress, clamp

Adjacency = Mapping[uuid.UUID, Sequence[uuid.UUID]]


class LinkKind(StrEnum):
    CONTRIBUTES = "contributes"
    SUPPORTS = "supports"


class Rollup(StrEnum):
    KEY_RESULTS = "key_results"
    CHILDREN = "children"
    BOTH = "both"


# Enum lookups by value are slow enough to show in a 100,000-node forest: map once.
ROLLUPS = {r.value: r for r in Rollup}
LINK_KINDS = {k.value: k for k in LinkKind}


# ---- shape of the graph ---------------------------------------------------------------


def path_between(children_of: Adjacency, start: uuid.UUID, goal: uuid.UUID) -> list[uuid.UUID]:
    """A downward path ``start -> ... -> goal``, or ``[]`` when goal is not below start."""
    if start == goal:
        return [start]
    came_from: dict[uuid.UUID, uuid.UUID] = {}
    frontier = [start]
    seen = {start}
    while frontier:
        following: list[uuid.UUID] = []
        for node in frontier:
            for child in children_of.get(node, ()):
                if child in seen:
                    continue
                seen.add(child)
                came_from[child] = node
                if child == goal:
                    path = [goal]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return path[::-1]
                following.append(child)
        frontier = following
    return []


def cycle_if_linked(children_of: Adjacency, child: uuid.UUID, parent: uuid.UUID) -> list[uuid.UUID]:
    """The cycle a new link ``parent -> child`` would close, as ``[parent, child, ..., parent]``;
    ``[]`` when the link keeps the graph acyclic."""
    below = path_between(children_of, child, parent)
    return [parent, *below] if below else []


def longest_path(adjacency: Adjacency, start: uuid.UUID) -> int:
    """Edges on the longest walk from ``start`` along ``adjacency`` (acyclic)."""
    memo: dict[uuid.UUID, int] = {}

    def walk(node: uuid.UUID) -> int:
        if node not in memo:
            memo[node] = max((1 + walk(n) for n in adjacency.get(node, ())), default=0)
        return memo[node]

    return walk(start)


def depth_if_linked(
    parents_of: Adjacency, children_of: Adjacency, child: uuid.UUID, parent: uuid.UUID
) -> int:
    """Levels below the highest root on the longest path through the new link."""
    return longest_path(parents_of, parent) + 1 + longest_path(children_of, child)


# ---- roll-ups -------------------------------------------------------------------------


@dataclass
class Edge:
    """A link (a plain dataclass like ``Pace``: ``orjson`` encodes it as the REST edge)."""

    parent_id: Any
    child_id: Any
    weight: float
    kind: LinkKind


@dataclass(slots=True)
class NodeInput:
    """What a node's own key results give: their weighted progress and total weight."""

    id: Any
    rollup: Rollup
    kr_value: float
    kr_raw: float
    kr_weight: float
    started: bool


@dataclass(slots=True)
class Rolled:
    progress: Progress
    started: bool = False


KR_FORMULA = "sum(weight_i * value_i) / sum(weight_i) over key results"
FORMULAS = {
    Rollup.KEY_RESULTS: KR_FORMULA,
    Rollup.CHILDREN: "sum(weight_c * value_c) / sum(weight_c) over contributing children",
    Rollup.BOTH: (
        "(kr_weight * kr_value + sum(weight_c * value_c)) / (kr_weight + sum(weight_c))"
        " over key results and contributing children"
    ),
}
NOTHING = "0 (nothing to measure yet)"
_KEY_RESULTS = Rollup.KEY_RESULTS
_BOTH = Rollup.BOTH
_CONTRIBUTES = LinkKind.CONTRIBUTES
_BY_ID = itemgetter("id")


def roll_up(
    nodes: Mapping[Any, NodeInput], edges: Iterable[Edge], done: dict[Any, Rolled] | None = None
) -> dict[Any, Rolled]:
    """Rolled-up progress of every node (ids may be UUIDs or their strings). Children must
    be present for every contributing edge whose parent rolls up children (a missing child
    is ignored, not guessed). One pass in post-order, iterative: deep cascades must not hit
    Python's recursion limit; a node is combined once, after all its children.

    ``done`` holds nodes rolled up already, filled in and returned: a tree's reader rolls
    up the nodes that count their key results only (most of a cascade: its leaves) as it
    reads their rows (``own``), and leaves them out of ``nodes``."""
    if done is None:
        done = {}
    contributing: dict[Any, list[Edge]] = {}
    for edge in edges:
        child = edge.child_id
        if edge.kind is _CONTRIBUTES and (child in nodes or child in done):
            siblings = contributing.get(edge.parent_id)
            if siblings is None:
                contributing[edge.parent_id] = [edge]
            else:
                siblings.append(edge)
    for root, node in nodes.items():
        if root in done:
            continue
        if node.rollup is _KEY_RESULTS or root not in contributing:
            done[root] = _own(node) if node.rollup is _KEY_RESULTS else _combine(node, ())
            continue
        stack: list[tuple[Any, bool]] = [(root, False)]
        while stack:
            ident, expanded = stack.pop()
            if ident in done:
                continue
            current = nodes[ident]
            if current.rollup is _KEY_RESULTS:
                done[ident] = _own(current)
                continue
            kids = contributing.get(ident, ())
            if expanded:
                done[ident] = _combine(current, [(e, done[e.child_id]) for e in kids])
                continue
            stack.append((ident, True))
            stack.extend((e.child_id, False) for e in kids if e.child_id not in done)
    return done


def own(value: float, raw: float, weight: float, started: bool) -> Rolled:
    """A node rolling up its key results only (most of a cascade: its leaves), from its
    key results' weighted progress and total weight; with no weight, nothing to measure
    yet (as ``goals.progress.weighted_progress`` says of it), not a sum over nothing."""
    inputs = {"key_results": {"value": value, "raw": raw, "weight": weight}}
    return Rolled(Progress(value, raw, KR_FORMULA if weight > 0 else NOTHING, inputs), started)


def _own(node: NodeInput) -> Rolled:
    return own(node.kr_value, node.kr_raw, node.kr_weight, node.started)


def _combine(node: NodeInput, children: Sequence[tuple[Edge, Rolled]]) -> Rolled:
    rollup = node.rollup
    if rollup is _KEY_RESULTS:
        return _own(node)
    weights: list[float] = []
    values: list[float] = []
    raws: list[float] = []
    shown: list[dict[str, Any]] = []
    started = False
    for edge, rolled in children:
        progress = rolled.progress
        weight = edge.weight
        weights.append(weight)
        values.append(weight * progress.value)
        raws.append(weight * progress.raw)
        shown.append(
            {
                "id": str(edge.child_id),
                "weight": weight,
                "value": progress.value,
                "raw": progress.raw,
            }
        )
        started = started or rolled.started
    # By id: the statements read links in no set order (a walk, a grouping), and the same
    # objective must explain itself alike in a tree, the forest and its own read.
    shown.sort(key=_BY_ID)
    inputs: dict[str, Any] = {"children": shown}
    if rollup is _BOTH:
        inputs["key_results"] = {
            "value": node.kr_value,
            "raw": node.kr_raw,
            "weight": node.kr_weight,
        }
        if node.kr_weight > 0:
            weights.append(node.kr_weight)
            values.append(node.kr_weight * node.kr_value)
            raws.append(node.kr_weight * node.kr_raw)
        started = started or node.started
    total = math.fsum(weights)
    if total <= 0:
        return Rolled(Progress(0.0, 0.0, NOTHING, inputs), started)
    value = math.fsum(values) / total
    raw = math.fsum(raws) / total
    return Rolled(Progress(clamp(value), raw, FORMULAS[rollup], inputs), started)


# ---- health ---------------------------------------------------------------------------


class HealthStatus(StrEnum):
    HEALTHY = "healthy"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"


class KpiSignal(NamedTuple):
    kpi_id: uuid.UUID
    state: str
    severity: str | None


@dataclass
class Health:
    status: HealthStatus
    reasons: list[str]


_RANK = {
    HealthStatus.UNKNOWN: 0,
    HealthStatus.HEALTHY: 1,
    HealthStatus.WARNING: 2,
    HealthStatus.CRITICAL: 3,
}
_PACE = {
    PaceStatus.ON_TRACK: HealthStatus.HEALTHY,
    PaceStatus.AT_RISK: HealthStatus.WARNING,
    PaceStatus.OFF_TRACK: HealthStatus.CRITICAL,
    PaceStatus.NOT_STARTED: HealthStatus.UNKNOWN,
}


_PACE_REASONS = {status: f"pace {status.value}" for status in PaceStatus}


def health(pace_status: PaceStatus, kpis: Sequence[KpiSignal]) -> Health:
    """Worst wins: pace (on track / at risk / off track) and each linked KPI's alert series
    (firing or recovering is as bad as its severity: critical or warning, as a recovering
    alert still fires; pending or no data is a warning; ok is healthy)."""
    status = _PACE[pace_status]
    reasons = [_PACE_REASONS[pace_status]]
    for kpi in kpis:
        signal = _kpi_status(kpi)
        if signal is not HealthStatus.HEALTHY:
            detail = f"{kpi.state} {kpi.severity}" if kpi.severity else kpi.state
            reasons.append(f"KPI {kpi.kpi_id} {detail}")
        if _RANK[signal] > _RANK[status]:
            status = signal
    return Health(status, reasons)


def pace_health(pace_status: PaceStatus) -> Health:
    """``health`` of an objective without linked KPIs: its pace alone. Most nodes of a tree
    have no KPI, so each status has one shared ``Health``, never changed once made."""
    return _PACE_HEALTH[pace_status]


def _kpi_status(kpi: KpiSignal) -> HealthStatus:
    if kpi.state in ("firing", "recovering"):
        return HealthStatus.CRITICAL if kpi.severity == "critical" else HealthStatus.WARNING
    if kpi.state in ("pending", "no_data"):
        return HealthStatus.WARNING
    return HealthStatus.HEALTHY


_PACE_HEALTH = {status: Health(_PACE[status], [_PACE_REASONS[status]]) for status in PaceStatus}
