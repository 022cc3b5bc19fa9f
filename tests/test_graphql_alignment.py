"""GraphQL alignment: the same graph as REST, and parents/children through loaders."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI

from service.alignment.build import Node
from service.alignment.graph import Edge, Health
from service.alignment.graphql import AlignmentEdge, AlignmentNode
from service.config import get_settings
from service.goals.graphql import HealthNode, PaceNode, ProgressNode
from service.goals.pace import Pace
from service.goals.progress import Progress
from service.graphql import loaders
from service.webhooks.dispatcher import asyncpg_dsn
from tests.conftest import Tenant
from tests.test_alignment import link, objective, with_progress
from tests.test_graphql import data, gql
from tests.test_graphql_limits import count_statements

Json = dict[str, Any]

ALIGNMENT = """
query($root: UUID, $cycle: UUID, $direction: TreeDirection, $depth: Int) {
  alignment(rootId: $root, cycleId: $cycle, direction: $direction, depth: $depth) {
    nodes { id title cycleId teamId ownerId status rollup depth
            progress { value raw formula inputs }
            pace { status expected ratio } health { status reasons } }
    edges { parentId childId weight kind }
  }
}
"""


async def test_alignment_matches_its_rest_twin(tenant: Tenant, cycle: Json) -> None:
    root = await objective(tenant, cycle, "Root", rollup="children")
    a, b = await objective(tenant, cycle, "A"), await objective(tenant, cycle, "B")
    await with_progress(tenant, a, 0.3)
    await with_progress(tenant, b, 0.9)
    assert (await link(tenant, a, root, weight=2)).status_code == 201
    assert (await link(tenant, b, root, kind="supports")).status_code == 201
    for variables, url in (
        ({"root": root["id"], "direction": "DOWN"}, f"/v1/objectives/{root['id']}/tree"),
        (
            {"root": a["id"], "direction": "UP", "depth": 1},
            f"/v1/objectives/{a['id']}/tree?direction=up&depth=1",
        ),
        ({"cycle": cycle["id"]}, f"/v1/alignment?cycle_id={cycle['id']}"),
    ):
        got = (await data(tenant, ALIGNMENT, variables))["alignment"]
        rest = (await tenant.get(url)).json()
        by_id = {n["id"]: n for n in rest["nodes"]}
        assert len(got["nodes"]) == len(rest["nodes"])
        for node in got["nodes"]:
            twin = by_id[node["id"]]
            assert node["progress"]["value"] == pytest.approx(twin["progress"]["value"])
            assert node["progress"]["inputs"] == twin["progress"]["inputs"]
            assert node["pace"]["status"].lower() == twin["pace"]["status"]
            assert node["health"]["status"].lower() == twin["health"]["status"]
            assert node["depth"] == twin["depth"]
            assert node["status"].lower() == twin["status"] and node["title"] == twin["title"]
            assert node["rollup"].lower() == twin["rollup"]
            assert (node["cycleId"], node["teamId"], node["ownerId"]) == (
                twin["cycle_id"],
                twin["team_id"],
                twin["owner_id"],
            )
        edges = {(e["parentId"], e["childId"], e["kind"].lower()) for e in got["edges"]}
        assert edges == {(e["parent_id"], e["child_id"], e["kind"]) for e in rest["edges"]}
    tree = (await data(tenant, ALIGNMENT, {"root": root["id"], "direction": "DOWN"}))["alignment"]
    assert {n["id"]: n["progress"]["value"] for n in tree["nodes"]}[root["id"]] == pytest.approx(
        0.3
    )


async def test_alignment_errors_like_rest(
    tenant: Tenant, other_tenant: Tenant, cycle: Json
) -> None:
    root = await objective(tenant, cycle, "Root")
    body = await gql(other_tenant, ALIGNMENT, {"root": root["id"], "direction": "DOWN"})
    assert body["errors"][0]["extensions"]["code"] == "not_found"
    body = await gql(tenant, ALIGNMENT, {"root": root["id"], "direction": "DOWN", "depth": 99})
    assert body["errors"][0]["extensions"]["code"] == "validation_failed"
    # An argument of the other kind (tree or forest) would be ignored: refused instead.
    for mixed in (
        {"root": root["id"], "cycle": cycle["id"]},
        {"cycle": cycle["id"], "depth": -5},
        {"direction": "UP"},
        {"depth": 1},
    ):
        body = await gql(tenant, ALIGNMENT, mixed)
        assert body["data"] is None, mixed
        assert body["errors"][0]["extensions"]["code"] == "validation_failed", mixed


async def test_alignment_is_capped(
    tenant: Tenant, cycle: Json, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = await objective(tenant, cycle, "Root")
    for name in ("A", "B"):
        assert (await link(tenant, await objective(tenant, cycle, name), root)).status_code == 201
    variables = {"root": root["id"], "direction": "DOWN"}
    monkeypatch.setattr(get_settings(), "graphql_alignment_max_nodes", 3)
    assert len((await data(tenant, ALIGNMENT, variables))["alignment"]["nodes"]) == 3
    monkeypatch.setattr(get_settings(), "graphql_alignment_max_nodes", 2)
    body = await gql(tenant, ALIGNMENT, variables)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "validation_failed"
    assert "3 nodes" in body["errors"][0]["message"]


LINKS = """
{ objectives(first: 100) { edges { node { title
    parents { weight kind objective { title } }
    children { weight kind objective { title } } } } } }
"""


async def test_parents_and_children_through_loaders(
    app: FastAPI, tenant: Tenant, cycle: Json
) -> None:
    counts: dict[int, int] = {}
    root = await objective(tenant, cycle, "Root")
    made = 0
    for total in (3, 12):
        while made < total:
            child = await objective(tenant, cycle, f"C{made}")
            assert (await link(tenant, child, root, weight=made + 1)).status_code == 201
            made += 1
        with count_statements(app) as statements:
            got = await data(tenant, LINKS)
        counts[total] = len(statements)
        nodes = {e["node"]["title"]: e["node"] for e in got["objectives"]["edges"]}
        assert len(nodes["Root"]["children"]) == total
        assert nodes["C0"]["parents"] == [
            {"weight": 1.0, "kind": "CONTRIBUTES", "objective": {"title": "Root"}}
        ]
    assert counts[3] == counts[12], counts


async def test_a_link_whose_objective_is_deleted_meanwhile_is_dropped(
    tenant: Tenant, cycle: Json, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The links and the objectives at their ends are read by two statements: an objective
    deleted (with its links) between them drops its link instead of failing the query."""
    root = await objective(tenant, cycle, "Root")
    kept, gone = await objective(tenant, cycle, "Kept"), await objective(tenant, cycle, "Gone")
    for child in (kept, gone):
        assert (await link(tenant, child, root)).status_code == 201
    read_links = loaders.alignment_repository.links_of

    async def links_then_delete(*args: Any) -> Any:
        rows = await read_links(*args)
        other = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            await other.execute("DELETE FROM objectives WHERE id = $1", uuid.UUID(gone["id"]))
        finally:
            await other.close()
        return rows

    monkeypatch.setattr(loaders.alignment_repository, "links_of", links_then_delete)
    query = """query($id: UUID!) { objective(id: $id) {
      children { weight objective { title } } } }"""
    body = await gql(tenant, query, {"id": root["id"]})
    assert "errors" not in body, body
    assert body["data"]["objective"]["children"] == [
        {"weight": 1.0, "objective": {"title": "Kept"}}
    ]


OBJECTIVE = """query($id: UUID!) { objective(id: $id) {
  rollup progress { value inputs } pace { status } health { status reasons } } }"""


async def test_objective_fields_match_rest(tenant: Tenant, cycle: Json) -> None:
    created = await data(
        tenant,
        """mutation($cycle: UUID!) { createObjective(input: {title: "Root", cycleId: $cycle,
           rollup: CHILDREN}) { ... on CreateObjectivePayload { objective { id rollup } } } }""",
        {"cycle": cycle["id"]},
    )
    root = created["createObjective"]["objective"]
    assert root["rollup"] == "CHILDREN"
    child = await objective(tenant, cycle, "Child", parent_id=root["id"])
    await with_progress(tenant, child, 0.6)
    await tenant.create("/v1/kpis", {"key": "nps", "name": "NPS", "target": 50})
    await tenant.create(f"/v1/objectives/{root['id']}/kpis", {"kpi": "nps"})
    got = (await data(tenant, OBJECTIVE, {"id": root["id"]}))["objective"]
    rest = (await tenant.get(f"/v1/objectives/{root['id']}")).json()
    assert got["progress"]["value"] == pytest.approx(rest["progress"]["value"]) == 0.6
    assert got["progress"]["inputs"] == rest["progress"]["inputs"]
    assert got["pace"]["status"].lower() == rest["pace"]["status"]
    assert got["health"]["status"].lower() == rest["health"]["status"]
    assert got["health"]["reasons"] == rest["health"]["reasons"]


MUTATIONS = """
mutation($a: UUID!, $b: UUID!) {
  first: alignObjective(id: $a, input: {parentId: $b, weight: 2}) {
    __typename ... on AlignObjectivePayload { parentId weight kind }
  }
  loop: alignObjective(id: $b, input: {parentId: $a}) {
    __typename ... on MutationError { code message }
  }
  kpi: linkObjectiveKpi(id: $b, kpi: "nps") {
    __typename ... on LinkObjectiveKpiPayload { kpiId }
  }
  missing: unlinkObjectiveKpi(id: $a, kpi: "nps") { __typename }
}
"""


async def test_alignment_mutations(tenant: Tenant, cycle: Json) -> None:
    a, b = await objective(tenant, cycle, "A"), await objective(tenant, cycle, "B")
    kpi = await tenant.create("/v1/kpis", {"key": "nps", "name": "NPS", "target": 1})
    got = await data(tenant, MUTATIONS, {"a": a["id"], "b": b["id"]})
    assert got["first"] == {
        "__typename": "AlignObjectivePayload",
        "parentId": b["id"],
        "weight": 2.0,
        "kind": "CONTRIBUTES",
    }
    assert got["loop"]["__typename"] == "ConflictError"
    assert f"{a['id']} -> {b['id']} -> {a['id']}" in got["loop"]["message"]
    assert got["kpi"] == {"__typename": "LinkObjectiveKpiPayload", "kpiId": kpi["id"]}
    assert got["missing"]["__typename"] == "NotFoundError"
    unalign = await data(
        tenant,
        "mutation($a: UUID!, $b: UUID!) { unalignObjective(id: $a, parentId: $b) { __typename } }",
        {"a": a["id"], "b": b["id"]},
    )
    assert unalign["unalignObjective"]["__typename"] == "UnlinkPayload"
    assert (await tenant.get(f"/v1/objectives/{a['id']}/parents")).json() == []


async def test_lint_rollover_and_promotion(tenant: Tenant, cycle: Json) -> None:
    o = await objective(tenant, cycle, "Lonely")
    lint = await data(
        tenant, "query($c: UUID!) { cycleLint(cycleId: $c) { check ids } }", {"c": cycle["id"]}
    )
    assert {"check": "KEY_RESULT_COUNT", "ids": [o["id"]]} in lint["cycleLint"]
    target = await tenant.create(
        "/v1/cycles", {"name": "Next", "start_date": "2027-01-01", "end_date": "2027-03-31"}
    )
    rolled = await data(
        tenant,
        """mutation($c: UUID!, $t: UUID!) { rolloverCycle(cycleId: $c,
             input: {targetCycleId: $t, dryRun: true}) {
             ... on RolloverCyclePayload { dryRun objectives { sourceId id } } } }""",
        {"c": cycle["id"], "t": target["id"]},
    )
    assert rolled["rolloverCycle"] == {
        "dryRun": True,
        "objectives": [{"sourceId": o["id"], "id": None}],
    }
    kr = await tenant.create(
        f"/v1/objectives/{o['id']}/key-results", {"title": "M", "type": "milestone"}
    )
    promoted = await data(
        tenant,
        """mutation($k: UUID!) { promoteKeyResultToKpi(keyResultId: $k, key: "shipped") {
             __typename ... on PromoteKeyResultPayload { kpi { key target } } } }""",
        {"k": kr["id"]},
    )
    assert promoted["promoteKeyResultToKpi"]["kpi"] == {"key": "shipped", "target": 1.0}


@pytest.mark.parametrize(
    ("graphql_type", "served_from"),
    [
        (AlignmentNode, Node),
        (AlignmentEdge, Edge),
        (ProgressNode, Progress),
        (PaceNode, Pace),
        (HealthNode, Health),
    ],
)
def test_alignment_types_are_served_from_the_service_tuples(
    graphql_type: type, served_from: type
) -> None:
    """``alignment`` returns the service's tuples as these types (Strawberry reads plain
    fields with getattr): every field must be an attribute of them, none may resolve."""
    definition = graphql_type.__strawberry_definition__  # type: ignore[attr-defined]
    fields = {f.python_name for f in definition.fields}
    assert all(f.is_basic_field for f in definition.fields)
    assert not definition.interfaces and definition.is_type_of is None
    attributes = set(getattr(served_from, "_fields", None) or served_from.__dataclass_fields__)
    assert fields <= attributes
