"""GraphQL queries: root and nested fields, connections, authentication and tenancy."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant


async def gql(
    tenant: Tenant, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """POST a document; insist on HTTP 200 and return the whole GraphQL response."""
    response = await tenant.post("/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def data(tenant: Tenant, query: str, variables: dict[str, Any] | None = None) -> Any:
    """The ``data`` of a response that must have no errors."""
    body = await gql(tenant, query, variables)
    assert "errors" not in body, body["errors"]
    return body["data"]


async def goal_tree(tenant: Tenant, cycle: dict[str, Any]) -> dict[str, Any]:
    """A manager, a person, a parent team and a team, an objective, a key result, check-ins."""
    boss = await tenant.create("/v1/people", {"user_name": "boss", "display_name": "Boss"})
    ada = await tenant.create(
        "/v1/people", {"user_name": "ada", "display_name": "Ada", "manager_id": boss["id"]}
    )
    parent = await tenant.create("/v1/teams", {"name": "Engineering"})
    team = await tenant.create(
        "/v1/teams",
        {"name": "Platform", "parent_id": parent["id"], "member_ids": [ada["id"], boss["id"]]},
    )
    objective = await tenant.create(
        "/v1/objectives",
        {
            "title": "Ship GraphQL",
            "cycle_id": cycle["id"],
            "owner_id": ada["id"],
            "team_id": team["id"],
            "status": "active",
        },
    )
    kr = await tenant.create(
        f"/v1/objectives/{objective['id']}/key-results",
        {"title": "Queries", "type": "increase", "start": 0, "target": 10, "owner_id": ada["id"]},
    )
    for value in (2, 5):
        await tenant.create(f"/v1/key-results/{kr['id']}/check-ins", {"value": value})
    return {"boss": boss, "ada": ada, "parent": parent, "team": team, "objective": objective,
            "kr": kr}  # fmt: skip


async def test_nested_objective_query(tenant: Tenant, cycle: dict[str, Any]) -> None:
    tree = await goal_tree(tenant, cycle)
    got = await data(
        tenant,
        """query($id: UUID!) { objective(id: $id) {
            id title status etag
            cycle { id name startDate status }
            owner { userName manager { userName manager { id } } }
            team { name parent { name parent { id } } members { userName } }
            progress { value raw formula inputs }
            pace { status expected ratio }
            keyResults { id title type current progress { value formula inputs }
              owner { userName } objective { id }
              checkIns(first: 1) { value valueBefore source }
              all: checkIns { value } }
        } }""",
        {"id": tree["objective"]["id"]},
    )
    o = got["objective"]
    assert o["title"] == "Ship GraphQL" and o["status"] == "ACTIVE"
    assert o["cycle"] == {"id": cycle["id"], "name": "2026-Q4", "startDate": "2026-10-01",
                          "status": "ACTIVE"}  # fmt: skip
    assert o["owner"] == {"userName": "ada", "manager": {"userName": "boss", "manager": None}}
    assert o["team"]["parent"] == {"name": "Engineering", "parent": None}
    assert [m["userName"] for m in o["team"]["members"]] == ["ada", "boss"]
    assert o["progress"]["value"] == 0.5
    assert o["progress"]["formula"] == "sum(weight_i * value_i) / sum(weight_i)"
    assert o["progress"]["inputs"]["key_results"][0]["id"] == tree["kr"]["id"]
    assert o["pace"]["status"] in {"ON_TRACK", "AT_RISK", "OFF_TRACK", "NOT_STARTED"}
    [kr] = o["keyResults"]
    assert kr["type"] == "INCREASE" and kr["current"] == 5
    assert kr["progress"] == {"value": 0.5, "formula": "(current - start) / (target - start)",
                              "inputs": {"current": 5.0, "start": 0.0, "target": 10.0}}  # fmt: skip
    assert kr["owner"] == {"userName": "ada"} and kr["objective"] == {"id": o["id"]}
    assert kr["checkIns"] == [{"value": 5.0, "valueBefore": 2.0, "source": "API"}]
    assert [c["value"] for c in kr["all"]] == [5.0, 2.0]
    # The same numbers as REST, which calls the same service.
    rest = (await tenant.get(f"/v1/objectives/{o['id']}")).json()
    assert rest["progress"]["value"] == o["progress"]["value"]
    assert f'"{rest["id"].replace("-", "")[:12]}-' in o["etag"]


async def test_key_result_person_team_cycle_roots(tenant: Tenant, cycle: dict[str, Any]) -> None:
    tree = await goal_tree(tenant, cycle)
    got = await data(
        tenant,
        """query($kr: UUID!, $p: UUID!, $t: UUID!, $c: UUID!) {
            keyResult(id: $kr) { title objective { title keyResults { id } } owner { userName } }
            person(id: $p) { displayName manager { displayName } }
            team(id: $t) { name members { displayName } parent { name } }
            cycle(id: $c) { name endDate }
            cycles { edges { node { id } } }
        }""",
        {"kr": tree["kr"]["id"], "p": tree["ada"]["id"], "t": tree["team"]["id"], "c": cycle["id"]},
    )
    assert got["keyResult"]["objective"] == {
        "title": "Ship GraphQL",
        "keyResults": [{"id": tree["kr"]["id"]}],
    }
    assert got["person"] == {"displayName": "Ada", "manager": {"displayName": "Boss"}}
    assert got["team"]["parent"] == {"name": "Engineering"}
    assert got["cycle"] == {"name": "2026-Q4", "endDate": "2026-12-31"}
    assert got["cycles"]["edges"] == [{"node": {"id": cycle["id"]}}]


async def test_missing_ids_are_null(tenant: Tenant) -> None:
    missing = str(uuid.uuid4())
    got = await data(
        tenant,
        """query($id: UUID!) { objective(id: $id) { id } keyResult(id: $id) { id }
            person(id: $id) { id } team(id: $id) { id } cycle(id: $id) { id } }""",
        {"id": missing},
    )
    assert got == dict.fromkeys(("objective", "keyResult", "person", "team", "cycle"))


async def test_objectives_connection_pages(tenant: Tenant, cycle: dict[str, Any]) -> None:
    ids = [
        (await tenant.create("/v1/objectives", {"title": f"O{i}", "cycle_id": cycle["id"]}))["id"]
        for i in range(5)
    ]
    query = """query($after: String) { objectives(first: 2, after: $after) {
        edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }"""
    seen, after, pages = [], None, 0
    while True:
        page = (await data(tenant, query, {"after": after}))["objectives"]
        seen += [e["node"]["id"] for e in page["edges"]]
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ids and pages == 3
    # endCursor is REST's next_cursor: the two walk the same keyset.
    rest = (await tenant.get("/v1/objectives", params={"limit": 2})).json()
    first = (await data(tenant, query))["objectives"]
    assert rest["next_cursor"] == first["pageInfo"]["endCursor"]


async def test_objectives_filters(tenant: Tenant, cycle: dict[str, Any]) -> None:
    tree = await goal_tree(tenant, cycle)
    other = await tenant.create(
        "/v1/cycles", {"name": "2027-Q1", "start_date": "2027-01-01", "end_date": "2027-03-31"}
    )
    draft = await tenant.create("/v1/objectives", {"title": "Later", "cycle_id": other["id"]})
    query = """query($c: UUID, $o: UUID, $t: UUID, $s: ObjectiveStatus) {
        objectives(cycleId: $c, ownerId: $o, teamId: $t, status: $s) { edges { node { id } } } }"""

    async def ids(**variables: Any) -> list[str]:
        got = await data(tenant, query, variables)
        return [e["node"]["id"] for e in got["objectives"]["edges"]]

    assert await ids() == [tree["objective"]["id"], draft["id"]]
    assert await ids(c=other["id"]) == [draft["id"]]
    assert await ids(o=tree["ada"]["id"]) == [tree["objective"]["id"]]
    assert await ids(t=tree["team"]["id"]) == [tree["objective"]["id"]]
    assert await ids(s="DRAFT") == [draft["id"]]
    assert await ids(s="CLOSED") == []


async def test_page_arguments_are_checked(tenant: Tenant) -> None:
    for args in ("first: 0", "first: 201", 'after: "not-a-cursor"'):
        body = await gql(tenant, f"{{ objectives({args}) {{ edges {{ cursor }} }} }}")
        [error] = body["errors"]
        assert error["extensions"]["code"] in {"validation_failed", "bad_request"}, error
        assert error["path"] == ["objectives"]
    body = await gql(tenant, "{ people(first: 500) { edges { cursor } } }")
    assert body["errors"][0]["extensions"]["code"] == "validation_failed"


async def test_people_and_teams_connections(tenant: Tenant, cycle: dict[str, Any]) -> None:
    tree = await goal_tree(tenant, cycle)
    got = await data(
        tenant,
        """query($parent: UUID!) {
            people(first: 1) { edges { node { userName } } pageInfo { hasNextPage } }
            inactive: people(active: false) { edges { node { id } } }
            teams { edges { node { name members { userName } } } }
            subTeams: teams(parentId: $parent) { edges { node { name } } } }""",
        {"parent": tree["parent"]["id"]},
    )
    assert got["people"] == {"edges": [{"node": {"userName": "boss"}}],
                             "pageInfo": {"hasNextPage": True}}  # fmt: skip
    assert got["inactive"] == {"edges": []}
    assert [e["node"]["name"] for e in got["teams"]["edges"]] == ["Engineering", "Platform"]
    assert got["subTeams"]["edges"] == [{"node": {"name": "Platform"}}]


async def test_without_a_key_is_401_problem(client: httpx.AsyncClient, tenant: Tenant) -> None:
    for headers in ({}, {"Authorization": "Bearer mrd_unknown"}, {"Authorization": "Basic x"}):
        response = await client.post("/graphql", json={"query": "{ cycles { edges { cursor } } }"},
                                     headers=headers)  # fmt: skip
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == 'Bearer realm="meridian"'
        problem = response.json()
        assert problem["code"] == "unauthorized" and problem["instance"] == "/graphql"


async def test_key_without_read_scope_gets_coded_error(tenant: Tenant) -> None:
    ingest = await tenant.key_with("ingest")
    body = await gql(ingest, "{ objectives { edges { cursor } } }")
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "forbidden"
    assert "read" in error["message"]


async def test_other_organization_is_invisible(
    tenant: Tenant, other_tenant: Tenant, cycle: dict[str, Any]
) -> None:
    tree = await goal_tree(tenant, cycle)
    theirs = await other_tenant.create(
        "/v1/cycles", {"name": "Q", "start_date": "2026-01-01", "end_date": "2026-03-31"}
    )
    own = await other_tenant.create("/v1/objectives", {"title": "Mine", "cycle_id": theirs["id"]})
    got = await data(
        other_tenant,
        """query($o: UUID!, $k: UUID!, $p: UUID!, $t: UUID!, $c: UUID!) {
            objective(id: $o) { id } keyResult(id: $k) { id } person(id: $p) { id }
            team(id: $t) { id } cycle(id: $c) { id }
            objectives { edges { node { id } } }
            filtered: objectives(ownerId: $p) { edges { node { id } } }
            people { edges { node { id } } } teams { edges { node { id } } }
            cycles { edges { node { id } } } }""",
        {
            "o": tree["objective"]["id"],
            "k": tree["kr"]["id"],
            "p": tree["ada"]["id"],
            "t": tree["team"]["id"],
            "c": cycle["id"],
        },
    )
    for name in ("objective", "keyResult", "person", "team", "cycle"):
        assert got[name] is None, name
    assert got["objectives"]["edges"] == [{"node": {"id": own["id"]}}]
    assert got["filtered"]["edges"] == []
    assert got["people"]["edges"] == [] and got["teams"]["edges"] == []
    assert got["cycles"]["edges"] == [{"node": {"id": theirs["id"]}}]


async def test_get_is_not_a_way_in(client: httpx.AsyncClient, tenant: Tenant) -> None:
    """Queries over GET work with a key; mutations over GET are refused."""
    ok = await client.get(
        "/graphql", params={"query": "{ cycles { edges { cursor } } }"}, headers=tenant.headers
    )
    assert ok.status_code == 200 and "errors" not in ok.json()
    mutation = 'mutation { createObjective(input: {title: "x", cycleId: "%s"}) { __typename } }'
    refused = await client.get(
        "/graphql", params={"query": mutation % uuid.uuid4()}, headers=tenant.headers
    )
    assert refused.status_code == 400  # strawberry: no mutations over GET
    assert (await client.get("/graphql")).status_code == 401


async def test_callers_mistakes_are_answered_not_logged_as_errors(
    tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    # Strawberry logs every GraphQL error at ERROR; an invalid document or a coded
    # `not_found` is the caller's, so it must not page anyone.
    caplog.set_level(logging.DEBUG)
    invalid = await tenant.post("/graphql", json={"query": "{ nope }"})
    assert invalid.json()["errors"], invalid.text
    missing = await gql(tenant, f'{{ cycleLint(cycleId: "{uuid.uuid4()}") {{ subjectId }} }}')
    assert missing["errors"][0]["extensions"]["code"] == "not_found", missing
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
