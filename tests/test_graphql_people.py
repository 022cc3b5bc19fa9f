"""GraphQL for people and teams: managers, reports, ownership and the team hierarchy, with
a fixed number of statements however many rows."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from tests.conftest import Tenant
from tests.test_graphql import gql
from tests.test_graphql_limits import count_statements

NESTED = """{
  people(first: 100) { edges { node { userName
    manager { userName } reports { userName }
    ownedObjectives { title } ownedKpis { key } } } }
  teams(first: 100) { edges { node { name parent { name } children { name }
    members { userName } objectives { title } } } }
}"""


async def seed(tenant: Tenant, cycle: dict[str, Any], start: int, count: int) -> None:
    boss = await tenant.create("/v1/people", {"user_name": f"boss{start}", "display_name": "B"})
    root = await tenant.create("/v1/teams", {"name": f"root{start}", "member_ids": [boss["id"]]})
    for i in range(start, start + count):
        ada = await tenant.create(
            "/v1/people",
            {"user_name": f"p{i:03}", "display_name": f"P{i}", "manager_id": boss["id"]},
        )
        team = await tenant.create(
            "/v1/teams", {"name": f"t{i:03}", "parent_id": root["id"], "member_ids": [ada["id"]]}
        )
        await tenant.create(
            "/v1/objectives",
            {
                "title": f"o{i}",
                "cycle_id": cycle["id"],
                "owner_id": ada["id"],
                "team_id": team["id"],
            },
        )
        await tenant.create("/v1/kpis", {"key": f"k{i}", "name": "K", "owner_id": ada["id"]})


async def test_people_and_teams_graph(app: FastAPI, tenant: Tenant, cycle: dict[str, Any]) -> None:
    await gql(tenant, "{ people { edges { cursor } } }")  # the key's last-used time moves now
    counts: dict[int, int] = {}
    for start, count in ((0, 3), (3, 12)):
        await seed(tenant, cycle, start, count)
        with count_statements(app) as statements:
            body = await gql(tenant, NESTED)
        assert "errors" not in body, body
        counts[start + count] = len(statements)
    people = {e["node"]["userName"]: e["node"] for e in body["data"]["people"]["edges"]}
    assert people["p001"]["manager"] == {"userName": "boss0"}
    assert people["p001"]["ownedObjectives"] == [{"title": "o1"}]
    assert people["p001"]["ownedKpis"] == [{"key": "k1"}]
    assert [r["userName"] for r in people["boss0"]["reports"]] == ["p000", "p001", "p002"]
    teams = {e["node"]["name"]: e["node"] for e in body["data"]["teams"]["edges"]}
    assert [c["name"] for c in teams["root0"]["children"]] == ["t000", "t001", "t002"]
    assert teams["t004"]["parent"] == {"name": "root3"}
    assert teams["t004"]["members"] == [{"userName": "p004"}]
    assert teams["t004"]["objectives"] == [{"title": "o4"}]
    # Key, two pages, then one batch per nested field: the count does not grow with rows.
    assert counts[3] == counts[15], counts


async def test_people_graph_is_scoped(tenant: Tenant, other_tenant: Tenant) -> None:
    ada = await tenant.create("/v1/people", {"user_name": "ada", "display_name": "Ada"})
    body = await gql(other_tenant, f'{{ person(id: "{ada["id"]}") {{ userName }} }}')
    assert body["data"]["person"] is None
    assert (await gql(other_tenant, "{ people { edges { cursor } } }"))["data"]["people"][
        "edges"
    ] == []
