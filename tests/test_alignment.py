"""Alignment over REST: links, cycles refused, roll-ups, trees, the forest, KPI health."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import Any

import asyncpg
import pytest

from service.alignment.repository import TREE_COLUMNS, TREE_SQL, WALK_COLUMNS, WALK_SQL, Seed
from service.alignment.schemas import AlignmentRead
from service.config import get_settings
from service.webhooks.dispatcher import asyncpg_dsn
from tests.conftest import Tenant
from tests.test_auth import assert_problem

Json = dict[str, Any]


async def objective(t: Tenant, cycle: Json, title: str, **extra: Any) -> Json:
    return await t.create("/v1/objectives", {"title": title, "cycle_id": cycle["id"], **extra})


async def link(t: Tenant, child: Json, parent: Json, **extra: Any) -> Any:
    return await t.post(
        f"/v1/objectives/{child['id']}/parents", json={"parent_id": parent["id"], **extra}
    )


async def with_progress(t: Tenant, o: Json, value: float) -> None:
    """One key result 0 -> 10 checked in at ``value * 10``."""
    body = {"title": "KR", "type": "increase", "start": 0, "target": 10}
    kr = await t.create(f"/v1/objectives/{o['id']}/key-results", body)
    await t.create(f"/v1/key-results/{kr['id']}/check-ins", {"value": value * 10})


async def test_link_list_and_unlink(tenant: Tenant, cycle: Json) -> None:
    parent, child = await objective(tenant, cycle, "P"), await objective(tenant, cycle, "C")
    response = await link(tenant, child, parent, weight=2.5, kind="supports")
    assert response.status_code == 201, response.text
    assert response.json()["weight"] == 2.5
    parents = (await tenant.get(f"/v1/objectives/{child['id']}/parents")).json()
    assert [(p["parent_id"], p["kind"]) for p in parents] == [(parent["id"], "supports")]
    children = (await tenant.get(f"/v1/objectives/{parent['id']}/children")).json()
    assert [c["child_id"] for c in children] == [child["id"]]
    assert_problem(await link(tenant, child, parent), 409)  # already linked
    url = f"/v1/objectives/{child['id']}/parents/{parent['id']}"
    assert (await tenant.delete(url)).status_code == 204
    assert_problem(await tenant.delete(url), 404)
    assert (await tenant.get(f"/v1/objectives/{child['id']}/parents")).json() == []


@pytest.mark.parametrize(
    "body",
    [
        {"parent_id": "nope"},
        {"parent_id": None},
        {"parent_id": "omit"},
        {"weight": 0},
        {"weight": -1},
        {"weight": 5e-324},  # so small that weight * value rounds: the mean misleads
        {"weight": 0.0009},
        {"weight": 1000.5},
        {"kind": "blocks"},
    ],
)
async def test_bad_links_are_422(tenant: Tenant, cycle: Json, body: Json) -> None:
    parent, child = await objective(tenant, cycle, "P"), await objective(tenant, cycle, "C")
    full = {"parent_id": parent["id"], **body}
    if full["parent_id"] == "omit":
        del full["parent_id"]
    assert_problem(await tenant.post(f"/v1/objectives/{child['id']}/parents", json=full), 422)
    assert (await tenant.get(f"/v1/objectives/{child['id']}/parents")).json() == []


async def test_unknown_or_foreign_parent_is_422(
    tenant: Tenant, other_tenant: Tenant, cycle: Json
) -> None:
    child = await objective(tenant, cycle, "C")
    other_cycle = await other_tenant.create(
        "/v1/cycles", {"name": "Q", "start_date": "2026-10-01", "end_date": "2026-12-31"}
    )
    foreign = await objective(other_tenant, other_cycle, "theirs")
    problem = assert_problem(await link(tenant, child, foreign), 422)
    assert problem["errors"][0]["loc"] == ["parent_id"]


async def test_self_link_is_422_and_direct_loop_is_409(tenant: Tenant, cycle: Json) -> None:
    a, b = await objective(tenant, cycle, "A"), await objective(tenant, cycle, "B")
    assert assert_problem(await link(tenant, a, a), 422)["errors"][0]["loc"] == ["parent_id"]
    assert (await link(tenant, b, a)).status_code == 201
    problem = assert_problem(await link(tenant, a, b), 409)
    assert f"{b['id']} -> {a['id']} -> {b['id']}" in problem["detail"]


async def test_long_loop_is_409_naming_the_path(tenant: Tenant, cycle: Json) -> None:
    chain = [await objective(tenant, cycle, f"O{i}") for i in range(5)]
    for parent, child in itertools.pairwise(chain):
        assert (await link(tenant, child, parent)).status_code == 201
    problem = assert_problem(await link(tenant, chain[0], chain[-1]), 409)
    path = " -> ".join(o["id"] for o in [chain[-1], *chain])
    assert path in problem["detail"]


async def test_racing_links_cannot_close_a_cycle(tenant: Tenant, cycle: Json) -> None:
    a, b = await objective(tenant, cycle, "A"), await objective(tenant, cycle, "B")
    first, second = await asyncio.gather(link(tenant, a, b), link(tenant, b, a))
    assert sorted([first.status_code, second.status_code]) == [201, 409]
    links = (await tenant.get(f"/v1/objectives/{a['id']}/parents")).json()
    links += (await tenant.get(f"/v1/objectives/{b['id']}/parents")).json()
    assert len(links) == 1


async def test_depth_bound_is_enforced(
    tenant: Tenant, cycle: Json, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "alignment_max_depth", 2)
    chain = [await objective(tenant, cycle, f"O{i}") for i in range(4)]
    assert (await link(tenant, chain[1], chain[0])).status_code == 201
    assert (await link(tenant, chain[2], chain[1])).status_code == 201
    problem = assert_problem(await link(tenant, chain[3], chain[2]), 422)
    assert "3 levels" in problem["detail"]
    assert_problem(await tenant.get(f"/v1/objectives/{chain[0]['id']}/tree?depth=3"), 422)


async def test_parent_id_on_create(tenant: Tenant, cycle: Json) -> None:
    parent = await objective(tenant, cycle, "P", rollup="children")
    child = await objective(tenant, cycle, "C", parent_id=parent["id"])
    await with_progress(tenant, child, 0.4)
    parents = (await tenant.get(f"/v1/objectives/{child['id']}/parents")).json()
    assert [(p["parent_id"], p["weight"], p["kind"]) for p in parents] == [
        (parent["id"], 1.0, "contributes")
    ]
    read = (await tenant.get(f"/v1/objectives/{parent['id']}")).json()
    assert read["rollup"] == "children"
    assert read["progress"]["value"] == pytest.approx(0.4)
    assert read["progress"]["inputs"]["children"][0]["id"] == child["id"]


async def test_create_under_an_unknown_parent_changes_nothing(tenant: Tenant, cycle: Json) -> None:
    body = {"title": "C", "cycle_id": cycle["id"], "parent_id": cycle["id"]}
    assert_problem(await tenant.post("/v1/objectives", json=body), 422)
    assert (await tenant.get("/v1/objectives")).json()["items"] == []


async def test_multi_parent_weighted_rollups_every_mode(tenant: Tenant, cycle: Json) -> None:
    company = await objective(tenant, cycle, "Company", rollup="children")
    sales = await objective(tenant, cycle, "Sales", rollup="both")
    product = await objective(tenant, cycle, "Product", rollup="key_results")
    shared = await objective(tenant, cycle, "Shared")
    side = await objective(tenant, cycle, "Side")
    await with_progress(tenant, sales, 1.0)
    await with_progress(tenant, product, 0.5)
    await with_progress(tenant, shared, 0.2)
    await with_progress(tenant, side, 0.9)
    assert (await link(tenant, sales, company, weight=3)).status_code == 201
    assert (await link(tenant, product, company, weight=1)).status_code == 201
    assert (await link(tenant, shared, sales, weight=1)).status_code == 201
    assert (await link(tenant, shared, product, weight=1)).status_code == 201  # two parents
    assert (await link(tenant, side, sales, weight=9, kind="supports")).status_code == 201

    sales_value = (1 * 1.0 + 1 * 0.2) / 2  # both: KR weight 1, child weight 1; support ignored
    company_value = (3 * sales_value + 1 * 0.5) / 4  # product rolls up its key results only
    tree = (await tenant.get(f"/v1/objectives/{company['id']}/tree")).json()
    AlignmentRead.model_validate(tree)  # the hand-encoded document is what OpenAPI says
    nodes = {n["id"]: n for n in tree["nodes"]}
    assert nodes[sales["id"]]["progress"]["value"] == pytest.approx(sales_value)
    assert nodes[product["id"]]["progress"]["value"] == pytest.approx(0.5)
    assert nodes[company["id"]]["progress"]["value"] == pytest.approx(company_value)
    assert nodes[company["id"]]["depth"] == 0 and nodes[shared["id"]]["depth"] == 2
    assert set(nodes) == {company["id"], sales["id"], product["id"], shared["id"], side["id"]}
    assert len(tree["edges"]) == 5
    explained = nodes[sales["id"]]["progress"]
    assert explained["inputs"]["key_results"]["weight"] == 1
    assert [c["id"] for c in explained["inputs"]["children"]] == [shared["id"]]
    # The objective's own representation says the same.
    read = (await tenant.get(f"/v1/objectives/{company['id']}")).json()
    assert read["progress"]["value"] == pytest.approx(company_value)
    assert read["pace"]["status"] in ("on_track", "at_risk", "off_track", "not_started")


async def test_trees_up_and_down_with_depth(tenant: Tenant, cycle: Json) -> None:
    chain = [await objective(tenant, cycle, f"O{i}") for i in range(4)]
    for parent, child in itertools.pairwise(chain):
        assert (await link(tenant, child, parent)).status_code == 201
    down = (await tenant.get(f"/v1/objectives/{chain[0]['id']}/tree?depth=2")).json()
    assert [n["id"] for n in sorted(down["nodes"], key=lambda n: n["depth"])] == [
        o["id"] for o in chain[:3]
    ]
    assert len(down["edges"]) == 2
    up = (await tenant.get(f"/v1/objectives/{chain[3]['id']}/tree?direction=up")).json()
    assert {n["id"]: n["depth"] for n in up["nodes"]} == {
        o["id"]: 3 - i for i, o in enumerate(chain)
    }
    leaf = (await tenant.get(f"/v1/objectives/{chain[3]['id']}/tree")).json()
    assert [n["id"] for n in leaf["nodes"]] == [chain[3]["id"]] and leaf["edges"] == []
    assert_problem(await tenant.get(f"/v1/objectives/{chain[0]['id']}/tree?direction=x"), 422)
    assert_problem(await tenant.get(f"/v1/objectives/{chain[0]['id']}/tree?depth=-1"), 422)


async def test_forest_by_cycle_and_team(tenant: Tenant, cycle: Json) -> None:
    person = await tenant.create("/v1/people", {"user_name": "ada", "display_name": "Ada"})
    team = await tenant.create("/v1/teams", {"name": "Sales", "member_ids": [person["id"]]})
    later = await tenant.create(
        "/v1/cycles", {"name": "2027-Q1", "start_date": "2027-01-01", "end_date": "2027-03-31"}
    )
    root = await objective(tenant, cycle, "Root", rollup="children")
    mine = await objective(tenant, cycle, "Team's", team_id=team["id"])
    elsewhere = await objective(tenant, later, "Next quarter")
    await with_progress(tenant, elsewhere, 0.8)
    assert (await link(tenant, mine, root)).status_code == 201
    assert (await link(tenant, elsewhere, root)).status_code == 201
    forest = (await tenant.get(f"/v1/alignment?cycle_id={cycle['id']}")).json()
    AlignmentRead.model_validate(forest)
    nodes = {n["id"]: n for n in forest["nodes"]}
    assert set(nodes) == {root["id"], mine["id"]}
    assert nodes[root["id"]]["depth"] is None
    # Roll-ups count the contributing child in the other cycle.
    assert nodes[root["id"]]["progress"]["value"] == pytest.approx(0.4)
    assert [(e["parent_id"], e["child_id"]) for e in forest["edges"]] == [(root["id"], mine["id"])]
    teams = (await tenant.get(f"/v1/alignment?team_id={team['id']}")).json()
    assert [n["id"] for n in teams["nodes"]] == [mine["id"]]
    everything = (await tenant.get("/v1/alignment")).json()
    assert len(everything["nodes"]) == 3
    assert_problem(await tenant.get(f"/v1/alignment?cycle_id={team['id']}"), 422)


async def test_linked_kpi_firing_makes_health_critical(tenant: Tenant, cycle: Json) -> None:
    o = await objective(tenant, cycle, "Retain")
    kpi = await tenant.create("/v1/kpis", {"key": "nps", "name": "NPS", "target": 50})
    response = await tenant.post(f"/v1/objectives/{o['id']}/kpis", json={"kpi": "nps"})
    assert response.status_code == 201, response.text
    assert_problem(await tenant.post(f"/v1/objectives/{o['id']}/kpis", json={"kpi": "nps"}), 409)
    assert_problem(await tenant.post(f"/v1/objectives/{o['id']}/kpis", json={"kpi": "x"}), 422)
    # Not started, but standing on a KPI whose series is ok.
    assert (await tenant.get(f"/v1/objectives/{o['id']}")).json()["health"]["status"] == "healthy"
    ingest = await tenant.post("/v1/kpis/nps/readings", json={"value": 10})
    assert ingest.status_code == 201, ingest.text
    read = (await tenant.get(f"/v1/objectives/{o['id']}")).json()
    assert read["health"]["status"] == "critical"
    assert f"KPI {kpi['id']} firing critical" in read["health"]["reasons"]
    tree = (await tenant.get(f"/v1/objectives/{o['id']}/tree")).json()
    assert tree["nodes"][0]["health"]["status"] == "critical"
    listed = (await tenant.get(f"/v1/objectives/{o['id']}/kpis")).json()
    assert [k["kpi_id"] for k in listed] == [kpi["id"]]
    assert (await tenant.delete(f"/v1/objectives/{o['id']}/kpis/nps")).status_code == 204
    assert_problem(await tenant.delete(f"/v1/objectives/{o['id']}/kpis/nps"), 404)
    assert (await tenant.get(f"/v1/objectives/{o['id']}")).json()["health"]["status"] == "unknown"


async def test_read_key_cannot_link(tenant: Tenant, cycle: Json) -> None:
    parent, child = await objective(tenant, cycle, "P"), await objective(tenant, cycle, "C")
    reader = await tenant.key_with("read")
    assert_problem(await link(reader, child, parent), 403)
    assert (await reader.get(f"/v1/objectives/{child['id']}/tree")).status_code == 200
    assert (await reader.get("/v1/alignment")).status_code == 200


async def test_other_organization_sees_no_tree_or_forest(
    tenant: Tenant, other_tenant: Tenant, cycle: Json
) -> None:
    parent, child = await objective(tenant, cycle, "P"), await objective(tenant, cycle, "C")
    assert (await link(tenant, child, parent)).status_code == 201
    assert_problem(await other_tenant.get(f"/v1/objectives/{parent['id']}/tree"), 404)
    assert (await other_tenant.get("/v1/alignment")).json() == {"nodes": [], "edges": []}
    assert_problem(await other_tenant.get(f"/v1/alignment?cycle_id={cycle['id']}"), 422)


async def test_key_result_weights_follow_every_write(
    tenant: Tenant, cycle: Json, database_url: str
) -> None:
    """Trees read an objective's key-result weight from its row (migration 0009's triggers
    keep it): creating, re-weighting and deleting key results, and rows written in SQL."""
    goal = await objective(tenant, cycle, "Goal", rollup="both")

    async def weight() -> float:
        tree = (await tenant.get(f"/v1/objectives/{goal['id']}/tree")).json()
        value: float = tree["nodes"][0]["progress"]["inputs"]["key_results"]["weight"]
        return value

    body = {"title": "KR", "type": "increase", "start": 0, "target": 10}
    first = await tenant.create(f"/v1/objectives/{goal['id']}/key-results", body)
    second = await tenant.create(f"/v1/objectives/{goal['id']}/key-results", {**body, "weight": 3})
    assert await weight() == 4
    patched = await tenant.patch(f"/v1/key-results/{second['id']}", json={"weight": 0.5})
    assert patched.status_code == 200, patched.text
    assert await weight() == 1.5
    assert (await tenant.delete(f"/v1/key-results/{first['id']}")).status_code == 204
    assert await weight() == 0.5
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await connection.execute(
            """INSERT INTO key_results (id, organization_id, created_at, updated_at, version,
                   objective_id, title, type, start, target, inclusive, unit, weight,
                   progress_value, progress_raw)
               SELECT gen_random_uuid(), organization_id, now(), now(), 1, id, 'raw',
                   'increase', 0, 10, true, 'number', 2, 0, 0
               FROM objectives WHERE id = $1""",
            uuid.UUID(goal["id"]),
        )
        assert await weight() == 2.5
        await connection.execute(
            "UPDATE key_results SET progress_value = 0.5 WHERE objective_id = $1",
            uuid.UUID(goal["id"]),
        )  # a check-in-like write leaves the sum alone
        assert await weight() == 2.5
        await connection.execute(
            "DELETE FROM key_results WHERE objective_id = $1", uuid.UUID(goal["id"])
        )
        assert await weight() == 0
    finally:
        await connection.close()


async def test_roll_ups_reach_below_the_depth_shown(tenant: Tenant, cycle: Json) -> None:
    """A tree cut at `depth` still rolls up everything that contributes below the cut."""
    chain = [await objective(tenant, cycle, f"O{i}", rollup="children") for i in range(3)]
    leaf = await objective(tenant, cycle, "Leaf")
    await with_progress(tenant, leaf, 0.4)
    for parent, child in itertools.pairwise([*chain, leaf]):
        assert (await link(tenant, child, parent)).status_code == 201
    for depth in (0, 1, 2, 3):
        tree = (await tenant.get(f"/v1/objectives/{chain[0]['id']}/tree?depth={depth}")).json()
        assert len(tree["nodes"]) == depth + 1 and len(tree["edges"]) == depth
        values = [n["progress"]["value"] for n in tree["nodes"]]
        assert values == pytest.approx([0.4] * (depth + 1))


async def test_a_node_reached_by_two_paths_keeps_each_link_once(
    tenant: Tenant, cycle: Json
) -> None:
    """The walk down meets `d` through `b` and `c`: its child link, read off the walk, is one
    edge and one input of its roll-up, at every depth the tree is cut."""
    a, b, c, d = [await objective(tenant, cycle, t, rollup="children") for t in "abcd"]
    leaf = await objective(tenant, cycle, "leaf")
    await with_progress(tenant, leaf, 0.6)
    for child, parent, kind in [
        (b, a, "contributes"), (c, a, "contributes"), (d, b, "contributes"),
        (d, c, "supports"), (leaf, d, "contributes"),
    ]:  # fmt: skip
        assert (await link(tenant, child, parent, kind=kind)).status_code == 201
    for depth, edges in ((2, 4), (3, 5)):
        tree = (await tenant.get(f"/v1/objectives/{a['id']}/tree?depth={depth}")).json()
        pairs = [(e["parent_id"], e["child_id"], e["kind"]) for e in tree["edges"]]
        assert len(pairs) == len(set(pairs)) == edges
        nodes = {n["id"]: n for n in tree["nodes"]}
        assert len(nodes[d["id"]]["progress"]["inputs"]["children"]) == 1
        # b has the leaf's 0.6 through d; c has only a `supports` link: nothing to measure.
        assert nodes[a["id"]]["progress"]["value"] == pytest.approx(0.3)
        assert len(nodes[a["id"]]["progress"]["inputs"]["children"]) == 2


async def test_a_tree_cut_at_a_depth_keeps_every_edge_between_its_nodes(
    tenant: Tenant, cycle: Json
) -> None:
    """Cut at depth 1, `a` and `b` are both shown under `r`; the links between them leave
    from the limit, where the walk stops, and roll-ups do not count them (a `supports`
    link; a parent rolling up its key results only). They are edges all the same, as in
    the forest."""
    r = await objective(tenant, cycle, "r", rollup="children")
    a, b, c = [await objective(tenant, cycle, t) for t in "abc"]
    for child, parent, kind in [
        (a, r, "contributes"), (b, r, "contributes"), (c, r, "contributes"),
        (b, a, "supports"), (c, a, "contributes"),
    ]:  # fmt: skip
        assert (await link(tenant, child, parent, kind=kind)).status_code == 201
    tree = (await tenant.get(f"/v1/objectives/{r['id']}/tree?depth=1")).json()
    forest = (await tenant.get(f"/v1/alignment?cycle_id={cycle['id']}")).json()
    assert len(tree["nodes"]) == 4
    assert sorted(map(str, tree["edges"])) == sorted(map(str, forest["edges"]))
    assert len(tree["edges"]) == 5


async def test_an_objective_without_key_results_has_nothing_to_measure_in_a_tree(
    tenant: Tenant, cycle: Json
) -> None:
    """The tree explains an empty objective as reading it does: not as a sum over nothing."""
    empty = await objective(tenant, cycle, "empty")
    read = (await tenant.get(f"/v1/objectives/{empty['id']}")).json()["progress"]
    (node,) = (await tenant.get(f"/v1/objectives/{empty['id']}/tree")).json()["nodes"]
    assert node["progress"]["formula"] == read["formula"] == "0 (nothing to measure yet)"
    assert node["progress"]["value"] == 0


def in_order(progress: Json) -> Json:
    """Progress with its children's inputs by id (the order of links read is no promise)."""
    children = progress["inputs"].get("children")
    if children is None:
        return progress
    inputs = {**progress["inputs"], "children": sorted(children, key=lambda c: c["id"])}
    return {**progress, "inputs": inputs}


async def test_a_node_met_above_and_below_the_cut_is_shown_once_at_its_shallowest(
    tenant: Tenant, cycle: Json
) -> None:
    """`d` hangs under `a` directly and at the end of `a -> b -> c -> d`. Cut at depth 2, the
    walk shows `d` at depth 1 and meets it again below the cut (through `c`), and meets its
    link to the leaf both ways: one node, one edge, and every roll-up as the forest's."""
    a, b, c, d = [await objective(tenant, cycle, t, rollup="children") for t in "abcd"]
    leaf, other = await objective(tenant, cycle, "leaf"), await objective(tenant, cycle, "other")
    await with_progress(tenant, leaf, 0.6)
    await with_progress(tenant, other, 0.2)
    for child, parent, weight in [
        (b, a, 1.0), (c, b, 1.0), (d, c, 1.0), (d, a, 3.0), (leaf, d, 1.0), (other, c, 1.0),
    ]:  # fmt: skip
        assert (await link(tenant, child, parent, weight=weight)).status_code == 201
    forest = (await tenant.get(f"/v1/alignment?cycle_id={cycle['id']}")).json()
    rolled = {n["id"]: in_order(n["progress"]) for n in forest["nodes"]}
    for depth, shown in ((1, "abd"), (2, "abcdL"), (3, "abcdLO")):
        tree = (await tenant.get(f"/v1/objectives/{a['id']}/tree?depth={depth}")).json()
        names = {a["id"]: "a", b["id"]: "b", c["id"]: "c", d["id"]: "d"}
        names |= {leaf["id"]: "L", other["id"]: "O"}
        depths = {names[n["id"]]: n["depth"] for n in tree["nodes"]}
        assert len(tree["nodes"]) == len(depths) == len(shown), depth
        assert set(depths) == set(shown)
        assert depths["d"] == 1 and depths["a"] == 0
        pairs = [(e["parent_id"], e["child_id"]) for e in tree["edges"]]
        assert len(pairs) == len(set(pairs))
        for node in tree["nodes"]:
            assert in_order(node["progress"]) == rolled[node["id"]], (depth, names[node["id"]])


async def test_every_tree_statement_returns_the_columns_in_order(
    tenant: Tenant, cycle: Json, database_url: str
) -> None:
    """``build.read_rows`` and ``read_walk`` unpack rows by position
    (``repository.TREE_COLUMNS``, ``WALK_COLUMNS``)."""
    parent, child = await objective(tenant, cycle, "P"), await objective(tenant, cycle, "C")
    assert (await link(tenant, child, parent)).status_code == 201
    root, org = uuid.UUID(parent["id"]), tenant.organization_id
    params = {
        Seed.UP: (root, 3),
        Seed.FOREST: (uuid.UUID(cycle["id"]), None),
        Seed.IDS: ([root],),
    }
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        for seed, more in params.items():
            rows = await connection.fetch(TREE_SQL[seed], org, *more)
            assert rows and all(tuple(row.keys()) == TREE_COLUMNS for row in rows), seed
        rows = await connection.fetch(WALK_SQL, org, root, 3)
        assert rows and all(tuple(row.keys()) == WALK_COLUMNS for row in rows)
    finally:
        await connection.close()
