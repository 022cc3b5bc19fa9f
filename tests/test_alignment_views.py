"""Alignment documents: the hand-built, orjson-encoded JSON is exactly what the model says."""

from __future__ import annotations

import gc
import uuid
from datetime import UTC, date, datetime
from typing import Any

from pydantic_core import to_json

from service.alignment.build import Graph, build_graph, shape_graph
from service.alignment.graph import HealthStatus, health, pace_health
from service.alignment.repository import TREE_COLUMNS
from service.alignment.schemas import AlignmentRead
from service.alignment.views import graph_json
from service.goals.pace import PaceStatus

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
CYCLE = uuid.UUID(int=99)


class Row(tuple[Any, ...]):
    """A row as ``repository.tree_rows`` returns it: values in order, also read by name."""

    def __getitem__(self, key: Any) -> Any:
        return super().__getitem__(TREE_COLUMNS.index(key) if isinstance(key, str) else key)


def row(ident: int, rollup: str, value: float, **extra: Any) -> Row:
    values = {
        "id": uuid.UUID(int=ident),
        "title": f"Objective {ident}",
        "cycle_id": CYCLE,
        "team_id": None,
        "owner_id": None,
        "status": "active",
        "rollup": rollup,
        "progress_value": value,
        "progress_raw": value,
        "started": value > 0,
        "start_date": date(2026, 10, 1),
        "end_date": date(2026, 12, 31),
        "shown": True,
        "depth": None,
        "kr_weight": 3.0,
        "child_ids": None,
        "child_weights": None,
        "child_kinds": None,
        "kpi_ids": None,
        "kpi_states": None,
        "kpi_severities": None,
        **extra,
    }
    return Row(values[column] for column in TREE_COLUMNS)


def rows() -> list[Row]:
    kpi = uuid.UUID(int=7)
    return [
        row(
            1,
            "both",
            0.25,
            title='Quotes " and \\ backslash, \n newline, \u2028, emoji \U0001f680, <tag>',
            team_id=uuid.UUID(int=50),
            owner_id=uuid.UUID(int=60),
            depth=0,
            child_ids=[uuid.UUID(int=2), uuid.UUID(int=3), uuid.UUID(int=4)],
            child_weights=[1.0, 0.5, 2.0],
            child_kinds=["contributes", "contributes", "supports"],
            kpi_ids=[kpi],
            kpi_states=["firing"],
            kpi_severities=["critical"],
        ),
        row(2, "key_results", 1e-7, depth=1),
        row(3, "children", 0.0, depth=1),  # nothing below: "nothing to measure yet"
        row(4, "key_results", 1.5, depth=1, progress_raw=1.5, progress_value=1.0),
        row(5, "key_results", 0.9, shown=False),  # a contributing descendant, not shown
    ]


def test_the_document_is_the_model_encoded() -> None:
    body = graph_json(build_graph(rows(), NOW))
    document = AlignmentRead.model_validate_json(body)
    assert body == to_json(document.model_dump(mode="json"))
    assert [n.id for n in document.nodes] == [uuid.UUID(int=i) for i in (1, 2, 3, 4)]
    root = document.nodes[0]
    assert root.health.status is HealthStatus.CRITICAL
    assert root.progress.inputs["children"][0]["id"] == str(uuid.UUID(int=2))
    assert [(e.child_id.int, e.kind.value) for e in document.edges] == [
        (2, "contributes"),
        (3, "contributes"),
        (4, "supports"),
    ]


def test_a_graph_is_shaped_with_the_collector_paused() -> None:
    seen: list[bool] = []

    def shape(graph: Graph) -> int:
        seen.append(gc.isenabled())
        return len(graph.nodes)

    assert shape_graph(rows(), NOW, shape) == 4
    assert seen == [False]
    assert gc.isenabled()


def test_pace_health_is_health_without_kpis() -> None:
    for status in PaceStatus:
        assert pace_health(status) == health(status, [])
