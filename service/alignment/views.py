"""Graphs to REST representations, encoded without a model per node (forests are big)."""

from __future__ import annotations

from typing import Any

from pydantic_core import to_json

from service.alignment.service import Graph, Node
from service.common.gc import collector_paused


def node_dict(node: Node) -> dict[str, Any]:
    state = node.state
    return {
        "id": node.id,
        "title": node.title,
        "cycle_id": node.cycle_id,
        "team_id": node.team_id,
        "owner_id": node.owner_id,
        "status": node.status,
        "rollup": node.rollup.value,
        "depth": node.depth,
        "progress": {
            "value": state.progress.value,
            "raw": state.progress.raw,
            "formula": state.progress.formula,
            "inputs": state.progress.inputs,
        },
        "pace": {
            "status": state.pace.status.value,
            "expected": state.pace.expected,
            "ratio": state.pace.ratio,
        },
        "health": {"status": state.health.status.value, "reasons": state.health.reasons},
    }


def graph_json(graph: Graph) -> bytes:
    """The ``AlignmentRead`` document as JSON (tests validate it against the model)."""
    with collector_paused():
        return to_json(_document(graph))


def _document(graph: Graph) -> dict[str, Any]:
    return {
        "nodes": [node_dict(node) for node in graph.nodes],
        "edges": [
            {
                "parent_id": e.parent_id,
                "child_id": e.child_id,
                "weight": e.weight,
                "kind": e.kind.value,
            }
            for e in graph.edges
        ],
    }
