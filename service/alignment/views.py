"""Graphs to REST representations, encoded without a model per node (forests are big)."""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic_core import to_json

from service.alignment.graph import HealthStatus, LinkKind, Rollup
from service.alignment.service import Graph, Node
from service.common.gc import collector_paused
from service.goals.pace import PaceStatus


def node_dict(node: Node) -> dict[str, Any]:
    progress, pace, health = node.progress, node.pace, node.health
    return {
        "id": node.id,
        "title": node.title,
        "cycle_id": node.cycle_id,
        "team_id": node.team_id,
        "owner_id": node.owner_id,
        "status": node.status,
        "rollup": _VALUES[node.rollup],
        "depth": node.depth,
        "progress": {
            "value": progress.value,
            "raw": progress.raw,
            "formula": progress.formula,
            "inputs": progress.inputs,
        },
        "pace": {"status": _VALUES[pace.status], "expected": pace.expected, "ratio": pace.ratio},
        "health": {"status": _VALUES[health.status], "reasons": health.reasons},
    }


# Enum members to their plain values once (``.value`` is a descriptor call per use).
_VALUES: dict[Enum, str] = {
    member: member.value for kind in (Rollup, PaceStatus, HealthStatus) for member in kind
}


def graph_json(graph: Graph) -> bytes:
    """The ``AlignmentRead`` document as JSON (tests validate it against the model)."""
    with collector_paused():
        return to_json(_document(graph))


def _document(graph: Graph) -> dict[str, Any]:
    kinds = {kind: kind.value for kind in LinkKind}
    return {
        "nodes": [node_dict(node) for node in graph.nodes],
        "edges": [
            {
                "parent_id": e.parent_id,
                "child_id": e.child_id,
                "weight": e.weight,
                "kind": kinds[e.kind],
            }
            for e in graph.edges
        ],
    }
