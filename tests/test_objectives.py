"""REST: objectives — CRUD, filters, references, closing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Tenant

Json = dict[str, Any]
MISSING = "00000000-0000-4000-8000-00000000abcd"


async def patch(tenant: Tenant, url: str, body: Json) -> Any:
    """PATCH with ``If-Match: *`` (PATCH without If-Match is covered in test_conventions)."""
    return await tenant.patch(url, json=body, headers={"If-Match": "*"})


def assert_problem(response: Any, status: int) -> Json:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: Json = response.json()
    assert body["status"] == status
    return body


async def person(tenant: Tenant, user_name: str) -> Json:
    return await tenant.create("/v1/people", {"user_name": user_name, "display_name": user_name})


async def team(tenant: Tenant, name: str) -> Json:
    return await tenant.create("/v1/teams", {"name": name})


async def new_cycle(tenant: Tenant, name: str) -> Json:
    return await tenant.create(
        "/v1/cycles", {"name": name, "start_date": "2027-01-01", "end_date": "2027-03-31"}
    )


async def list_ids(tenant: Tenant, **params: Any) -> list[str]:
    response = await tenant.get("/v1/objectives", params=params)
    assert response.status_code == 200, response.text
    return [o["id"] for o in response.json()["items"]]


# ---- CRUD -------------------------------------------------------------------------------


async def test_create_objective_with_defaults(tenant: Tenant, cycle: Json) -> None:
    response = await tenant.post(
        "/v1/objectives", json={"title": "  Win the market  ", "cycle_id": cycle["id"]}
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"/v1/objectives/{created['id']}"
    assert response.headers["etag"]
    assert created["title"] == "Win the market"
    assert created["status"] == "draft"
    assert created["description"] is None
    assert created["owner_id"] is None
    assert created["team_id"] is None
    assert created["outcome"] is None
    assert created["final_score"] is None
    assert created["key_result_ids"] == []
    assert created["progress"]["value"] == 0.0
    assert created["pace"]["status"] == "not_started"
    assert created["created_at"].endswith("Z")
    assert created["updated_at"].endswith("Z")

    got = await tenant.get(f"/v1/objectives/{created['id']}")
    assert got.status_code == 200
    fetched = got.json()
    # Expected pace moves with the clock between the two requests; the rest is identical.
    assert fetched.pop("pace")["status"] == created.pop("pace")["status"]
    assert fetched == created


async def test_create_objective_with_owner_and_team(tenant: Tenant, cycle: Json) -> None:
    ada = await person(tenant, "ada")
    core = await team(tenant, "Core")
    created = await tenant.create(
        "/v1/objectives",
        {
            "title": "Ship",
            "description": "All of it",
            "cycle_id": cycle["id"],
            "owner_id": ada["id"],
            "team_id": core["id"],
            "status": "active",
        },
    )
    assert created["owner_id"] == ada["id"]
    assert created["team_id"] == core["id"]
    assert created["status"] == "active"
    assert created["description"] == "All of it"


async def test_update_objective(tenant: Tenant, objective: Json) -> None:
    url = f"/v1/objectives/{objective['id']}"
    before = (await tenant.get(url)).headers["etag"]
    response = await patch(tenant, url, {"title": "Delight everyone", "status": "active"})
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["title"] == "Delight everyone"
    assert updated["status"] == "active"
    assert updated["description"] is None
    assert response.headers["etag"] != before
    assert (await tenant.get(url)).json()["title"] == "Delight everyone"
    cleared = await patch(tenant, url, {"description": "why"})
    assert cleared.json()["description"] == "why"
    cleared = await patch(tenant, url, {"description": None})
    assert cleared.json()["description"] is None


@pytest.mark.parametrize("field", ["title", "cycle_id", "status"])
async def test_update_refuses_null_required_fields(
    tenant: Tenant, objective: Json, field: str
) -> None:
    url = f"/v1/objectives/{objective['id']}"
    assert_problem(await patch(tenant, url, {field: None}), 422)


async def test_move_objective_to_another_cycle(tenant: Tenant, objective: Json) -> None:
    other = await new_cycle(tenant, "2027-Q1")
    url = f"/v1/objectives/{objective['id']}"
    response = await patch(tenant, url, {"cycle_id": other["id"]})
    assert response.status_code == 200, response.text
    assert response.json()["cycle_id"] == other["id"]


async def test_delete_objective(tenant: Tenant, objective: Json) -> None:
    url = f"/v1/objectives/{objective['id']}"
    assert (await tenant.delete(url)).status_code == 204
    assert_problem(await tenant.get(url), 404)
    assert_problem(await tenant.delete(url), 404)
    assert await list_ids(tenant) == []


@pytest.mark.parametrize(
    "body",
    [
        {"title": "x"},  # no cycle
        {"title": "", "cycle_id": MISSING},
        {"title": "x" * 501, "cycle_id": MISSING},
        {"title": "x", "cycle_id": "not-a-uuid"},
        {"title": "x", "cycle_id": MISSING, "status": "done"},
    ],
)
async def test_create_objective_schema_errors(tenant: Tenant, body: Json) -> None:
    assert_problem(await tenant.post("/v1/objectives", json=body), 422)


# ---- filters ----------------------------------------------------------------------------


async def test_list_filters(tenant: Tenant, cycle: Json) -> None:
    q1 = await new_cycle(tenant, "2027-Q1")
    ada, bob = await person(tenant, "ada"), await person(tenant, "bob")
    core, edge = await team(tenant, "Core"), await team(tenant, "Edge")

    async def make(title: str, cycle_id: str, **fields: Any) -> str:
        body = {"title": title, "cycle_id": cycle_id, **fields}
        return str((await tenant.create("/v1/objectives", body))["id"])

    a = await make("a", cycle["id"], owner_id=ada["id"], team_id=core["id"], status="active")
    b = await make("b", cycle["id"], owner_id=bob["id"], team_id=edge["id"])
    c = await make("c", q1["id"], owner_id=ada["id"], team_id=edge["id"], status="active")
    d = await make("d", q1["id"])

    assert await list_ids(tenant) == [a, b, c, d]
    assert await list_ids(tenant, cycle_id=cycle["id"]) == [a, b]
    assert await list_ids(tenant, cycle_id=q1["id"]) == [c, d]
    assert await list_ids(tenant, owner_id=ada["id"]) == [a, c]
    assert await list_ids(tenant, owner_id=bob["id"]) == [b]
    assert await list_ids(tenant, team_id=core["id"]) == [a]
    assert await list_ids(tenant, team_id=edge["id"]) == [b, c]
    assert await list_ids(tenant, status="active") == [a, c]
    assert await list_ids(tenant, status="draft") == [b, d]
    assert await list_ids(tenant, status="closed") == []
    assert await list_ids(tenant, owner_id=ada["id"], team_id=edge["id"]) == [c]
    assert await list_ids(tenant, cycle_id=q1["id"], status="active") == [c]
    assert await list_ids(tenant, owner_id=MISSING) == []


@pytest.mark.parametrize(
    "params", [{"status": "done"}, {"cycle_id": "nope"}, {"owner_id": "1"}, {"team_id": "x"}]
)
async def test_bad_filters_are_422(tenant: Tenant, params: Json) -> None:
    assert_problem(await tenant.get("/v1/objectives", params=params), 422)


async def test_list_shows_only_own_organization(
    tenant: Tenant, other_tenant: Tenant, objective: Json
) -> None:
    assert await list_ids(tenant) == [objective["id"]]
    response = await other_tenant.get("/v1/objectives")
    assert response.json()["items"] == []
    # Filtering by another organization's cycle finds nothing either.
    response = await other_tenant.get("/v1/objectives", params={"cycle_id": objective["cycle_id"]})
    assert response.json()["items"] == []


# ---- references -------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["cycle_id", "owner_id", "team_id"])
async def test_unknown_references_are_422(tenant: Tenant, cycle: Json, field: str) -> None:
    body = {"title": "x", "cycle_id": cycle["id"], field: MISSING}
    problem = assert_problem(await tenant.post("/v1/objectives", json=body), 422)
    assert problem["errors"][0]["loc"] == [field]
    assert await list_ids(tenant) == []


async def other_org_refs(other: Tenant) -> Json:
    return {
        "cycle_id": (await new_cycle(other, "theirs"))["id"],
        "owner_id": (await person(other, "mallory"))["id"],
        "team_id": (await team(other, "Theirs"))["id"],
    }


@pytest.mark.parametrize("field", ["cycle_id", "owner_id", "team_id"])
async def test_other_organizations_references_are_422(
    tenant: Tenant, other_tenant: Tenant, cycle: Json, field: str
) -> None:
    refs = await other_org_refs(other_tenant)
    body = {"title": "x", "cycle_id": cycle["id"], field: refs[field]}
    problem = assert_problem(await tenant.post("/v1/objectives", json=body), 422)
    assert problem["errors"][0]["loc"] == [field]
    assert await list_ids(tenant) == []


@pytest.mark.parametrize("field", ["cycle_id", "owner_id", "team_id"])
async def test_update_to_unknown_or_foreign_reference_is_422(
    tenant: Tenant, other_tenant: Tenant, objective: Json, field: str
) -> None:
    refs = await other_org_refs(other_tenant)
    url = f"/v1/objectives/{objective['id']}"
    assert_problem(await patch(tenant, url, {field: MISSING}), 422)
    assert_problem(await patch(tenant, url, {field: refs[field]}), 422)
    assert (await tenant.get(url)).json()[field] == objective[field]


async def test_inactive_owner_is_refused(tenant: Tenant, cycle: Json, objective: Json) -> None:
    gone = await person(tenant, "gone")
    assert (await tenant.delete(f"/v1/people/{gone['id']}")).status_code == 204
    body = {"title": "x", "cycle_id": cycle["id"], "owner_id": gone["id"]}
    problem = assert_problem(await tenant.post("/v1/objectives", json=body), 422)
    assert "inactive" in problem["detail"]
    url = f"/v1/objectives/{objective['id']}"
    assert_problem(await patch(tenant, url, {"owner_id": gone["id"]}), 422)
    created_inactive = await tenant.post(
        "/v1/people", json={"user_name": "never", "display_name": "N", "active": False}
    )
    assert created_inactive.status_code == 201
    body["owner_id"] = created_inactive.json()["id"]
    assert_problem(await tenant.post("/v1/objectives", json=body), 422)


async def test_owner_can_be_cleared(tenant: Tenant, cycle: Json) -> None:
    ada = await person(tenant, "ada")
    made = await tenant.create(
        "/v1/objectives", {"title": "x", "cycle_id": cycle["id"], "owner_id": ada["id"]}
    )
    response = await patch(tenant, f"/v1/objectives/{made['id']}", {"owner_id": None})
    assert response.status_code == 200, response.text
    assert response.json()["owner_id"] is None


# ---- closing ----------------------------------------------------------------------------


async def test_closing_sets_final_score_from_progress(tenant: Tenant, objective: Json) -> None:
    kr = await tenant.create(
        f"/v1/objectives/{objective['id']}/key-results",
        {"title": "KR", "type": "increase", "start": 0, "target": 8},
    )
    await tenant.create(f"/v1/key-results/{kr['id']}/check-ins", {"value": 5})
    url = f"/v1/objectives/{objective['id']}"
    response = await patch(tenant, url, {"status": "closed", "outcome": "partial"})
    assert response.status_code == 200, response.text
    closed = response.json()
    assert closed["status"] == "closed"
    assert closed["outcome"] == "partial"
    assert closed["final_score"] == pytest.approx(0.625)
    assert (await tenant.get(url)).json()["final_score"] == pytest.approx(0.625)


async def test_closing_without_key_results_scores_zero(tenant: Tenant, objective: Json) -> None:
    response = await patch(tenant, f"/v1/objectives/{objective['id']}", {"status": "closed"})
    assert response.status_code == 200, response.text
    assert response.json()["final_score"] == 0.0


async def test_closing_with_explicit_final_score(tenant: Tenant, objective: Json) -> None:
    url = f"/v1/objectives/{objective['id']}"
    body = {"status": "closed", "outcome": "achieved", "final_score": 0.9}
    response = await patch(tenant, url, body)
    assert response.status_code == 200, response.text
    assert response.json()["final_score"] == 0.9
    assert response.json()["outcome"] == "achieved"


@pytest.mark.parametrize(
    "body",
    [{"outcome": "achieved"}, {"final_score": 0.5}, {"status": "active", "outcome": "missed"}],
)
async def test_outcome_and_score_only_when_closing(
    tenant: Tenant, objective: Json, body: Json
) -> None:
    url = f"/v1/objectives/{objective['id']}"
    assert_problem(await patch(tenant, url, body), 422)
    got = (await tenant.get(url)).json()
    assert (got["outcome"], got["final_score"]) == (None, None)


@pytest.mark.parametrize("score", [-0.1, 1.01, "high"])
async def test_final_score_bounds(tenant: Tenant, objective: Json, score: Any) -> None:
    url = f"/v1/objectives/{objective['id']}"
    assert_problem(await patch(tenant, url, {"status": "closed", "final_score": score}), 422)


async def test_closing_scores_the_rolled_up_progress(tenant: Tenant, cycle: Json) -> None:
    """An objective that rolls up its children closes at the progress it shows (0.8 from
    its child), not at its own key results' (none: 0); ``both`` mixes them."""
    parent = await tenant.create(
        "/v1/objectives", {"title": "P", "cycle_id": cycle["id"], "rollup": "children"}
    )
    child = await tenant.create(
        "/v1/objectives", {"title": "C", "cycle_id": cycle["id"], "parent_id": parent["id"]}
    )
    kr = await tenant.create(
        f"/v1/objectives/{child['id']}/key-results",
        {"title": "KR", "type": "increase", "start": 0, "target": 10},
    )
    await tenant.create(f"/v1/key-results/{kr['id']}/check-ins", {"value": 8})
    url = f"/v1/objectives/{parent['id']}"
    assert (await tenant.get(url)).json()["progress"]["value"] == pytest.approx(0.8)
    closed = await patch(tenant, url, {"status": "closed"})
    assert closed.status_code == 200, closed.text
    assert closed.json()["final_score"] == pytest.approx(0.8)
    # Switching to ``both`` as it closes: the score follows the rollup it closes under.
    mixed = await tenant.create(
        "/v1/objectives", {"title": "M", "cycle_id": cycle["id"], "rollup": "children"}
    )
    await tenant.post(f"/v1/objectives/{child['id']}/parents", json={"parent_id": mixed["id"]})
    own = await tenant.create(
        f"/v1/objectives/{mixed['id']}/key-results",
        {"title": "Own", "type": "increase", "start": 0, "target": 10},
    )
    await tenant.create(f"/v1/key-results/{own['id']}/check-ins", {"value": 2})
    both = await patch(
        tenant, f"/v1/objectives/{mixed['id']}", {"status": "closed", "rollup": "both"}
    )
    assert both.status_code == 200, both.text
    assert both.json()["final_score"] == pytest.approx(0.5)
    assert both.json()["final_score"] == pytest.approx(both.json()["progress"]["value"])


async def test_reopening_clears_outcome_and_score(tenant: Tenant, objective: Json) -> None:
    url = f"/v1/objectives/{objective['id']}"
    await patch(tenant, url, {"status": "closed", "outcome": "missed", "final_score": 0.3})
    response = await patch(tenant, url, {"status": "active"})
    assert response.status_code == 200, response.text
    assert (response.json()["outcome"], response.json()["final_score"]) == (None, None)
    closed_again = await patch(tenant, url, {"status": "closed"})
    assert closed_again.json()["final_score"] == 0.0
    assert closed_again.json()["outcome"] is None


@pytest.mark.parametrize(
    ("score", "grade"),
    [(1.0, "green"), (0.7, "green"), (0.69, "yellow"), (0.4, "yellow"), (0.39, "red"), (0, "red")],
)
async def test_a_final_score_is_graded(
    tenant: Tenant, objective: Json, score: float, grade: str
) -> None:
    url = f"/v1/objectives/{objective['id']}"
    assert (await tenant.get(url)).json()["grade"] is None
    closed = await patch(tenant, url, {"status": "closed", "final_score": score})
    assert closed.json()["grade"] == grade
    query = "query($id: UUID!) { objective(id: $id) { finalScore grade } }"
    answer = await tenant.post("/graphql", json={"query": query, "variables": {"id": url[15:]}})
    assert answer.json()["data"]["objective"] == {"finalScore": score, "grade": grade.upper()}
    reopened = await patch(tenant, url, {"status": "active"})
    assert reopened.json()["grade"] is None


async def test_closed_objective_keeps_score_when_patched_again(
    tenant: Tenant, objective: Json
) -> None:
    url = f"/v1/objectives/{objective['id']}"
    await patch(tenant, url, {"status": "closed", "final_score": 0.4})
    response = await patch(tenant, url, {"title": "Renamed"})
    assert response.status_code == 200, response.text
    assert response.json()["final_score"] == 0.4
    assert response.json()["status"] == "closed"
