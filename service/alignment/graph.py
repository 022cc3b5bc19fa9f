"""The alignment graph's rules, pure: cycle and depth checks, weighted roll-ups, health.

Objectives form a DAG: an edge ``parent -> child`` says the child aligns to the parent.
``contributes`` edges count in the parent's roll-up with their weight; ``supports`` edges
are shown but never counted. Every rolled-up number carries its formula and inputs.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
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


class Edge(NamedTuple):
    parent_id: uuid.UUID
    child_id: uuid.UUID
    weight: float
    kind: LinkKind


class NodeInput(NamedTuple):
    """What a node's own key results give: their weighted progress and total weight."""

    id: uuid.UUID
    rollup: Rollup
    kr_value: float
    kr_raw: float
    kr_weight: float
    started: bool


@dataclass(frozen=True)
class Rolled:
    progress: Progress
    started: bool = field(default=False)


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


def roll_up(nodes: Mapping[uuid.UUID, NodeInput], edges: Iterable[Edge]) -> dict[uuid.UUID, Rolled]:
    """Rolled-up progress of every node. Children must be present for every contributing
    edge whose parent rolls up children (a missing child is ignored, not guessed)."""
    contributing: dict[uuid.UUID, list[Edge]] = {}
    for edge in edges:
        if edge.kind is LinkKind.CONTRIBUTES and edge.child_id in nodes:
            contributing.setdefault(edge.parent_id, []).append(edge)
    done: dict[uuid.UUID, Rolled] = {}
    for ident in nodes:
        _roll(ident, nodes, contributing, done)
    return done


def _roll(
    root: uuid.UUID,
    nodes: Mapping[uuid.UUID, NodeInput],
    contributing: Mapping[uuid.UUID, list[Edge]],
    done: dict[uuid.UUID, Rolled],
) -> None:
    # Iterative post-order: deep cascades must not hit Python's recursion limit.
    stack: list[tuple[uuid.UUID, bool]] = [(root, False)]
    while stack:
        ident, expanded = stack.pop()
        if ident in done:
            continue
        node = nodes[ident]
        children = contributing.get(ident, []) if node.rollup is not Rollup.KEY_RESULTS else []
        if not expanded:
            stack.append((ident, True))
            stack.extend((e.child_id, False) for e in children if e.child_id not in done)
            continue
        done[ident] = _combine(node, [(e, done[e.child_id]) for e in children])


def _combine(node: NodeInput, children: list[tuple[Edge, Rolled]]) -> Rolled:
    own = {"value": node.kr_value, "raw": node.kr_raw, "weight": node.kr_weight}
    if node.rollup is Rollup.KEY_RESULTS:
        progress = Progress(node.kr_value, node.kr_raw, KR_FORMULA, {"key_results": own})
        return Rolled(progress, node.started)
    parts = [(e.weight, r.progress.value, r.progress.raw) for e, r in children]
    inputs: dict[str, Any] = {
        "children": [
            {
                "id": str(e.child_id),
                "weight": e.weight,
                "value": r.progress.value,
                "raw": r.progress.raw,
            }
            for e, r in children
        ]
    }
    started = any(r.started for _, r in children)
    if node.rollup is Rollup.BOTH:
        inputs["key_results"] = own
        if node.kr_weight > 0:
            parts.append((node.kr_weight, node.kr_value, node.kr_raw))
        started = started or node.started
    total = math.fsum(w for w, _, _ in parts)
    if total <= 0:
        return Rolled(Progress(0.0, 0.0, NOTHING, inputs), started)
    value = math.fsum(w * v for w, v, _ in parts) / total
    raw = math.fsum(w * r for w, _, r in parts) / total
    return Rolled(Progress(clamp(value), raw, FORMULAS[node.rollup], inputs), started)


# ---- health ---------------------------------------------------------------------------


class HealthStatus(StrEnum):
    HEALTHY = "healthy"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class KpiSignal:
    kpi_id: uuid.UUID
    state: str
    severity: str | None


@dataclass(frozen=True)
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


def health(pace_status: PaceStatus, kpis: Sequence[KpiSignal]) -> Health:
    """Worst wins: pace (on track / at risk / off track) and each linked KPI's alert series
    (firing critical is critical; firing warning, pending, recovering or no data is a
    warning; ok is healthy)."""
    status = _PACE[pace_status]
    reasons = [f"pace {pace_status.value}"]
    for kpi in kpis:
        signal = _kpi_status(kpi)
        if signal is not HealthStatus.HEALTHY:
            detail = f"{kpi.state} {kpi.severity}" if kpi.severity else kpi.state
            reasons.append(f"KPI {kpi.kpi_id} {detail}")
        if _RANK[signal] > _RANK[status]:
            status = signal
    return Health(status, reasons)


def _kpi_status(kpi: KpiSignal) -> HealthStatus:
    if kpi.state in ("firing", "recovering"):
        return HealthStatus.CRITICAL if kpi.severity == "critical" else HealthStatus.WARNING
    if kpi.state in ("pending", "no_data"):
        return HealthStatus.WARNING
    return HealthStatus.HEALTHY
