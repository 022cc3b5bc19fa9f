"""REST: people, teams (hierarchy and members) and cycles."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Tenant

Json = dict[str, Any]
MISSING = "00000000-0000-4000-8000-00000000beef"


async def patch(tenant: Tenant, url: str, body: Json) -> Any:
    """PATCH with ``If-Match: *`` (PATCH without If-Match is covered in test_conventions)."""
    return await tenant.patch(url, json=body, headers={"If-Match": "*"})


def assert_problem(response: Any, status: int) -> Json:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: Json = response.json()
    assert body["status"] == status
    return body


async def person(tenant: Tenant, user_name: str, **fields: Any) -> Json:
    body = {"user_name": user_name, "display_name": user_name.title(), **fields}
    return await tenant.create("/v1/people", body)


async def team(tenant: Tenant, name: str, **fields: Any) -> Json:
    return await tenant.create("/v1/teams", {"name": name, **fields})


async def get(tenant: Tenant, url: str) -> Json:
    response = await tenant.get(url)
    assert response.status_code == 200, response.text
    result: Json = response.json()
    return result


# ==== people =============================================================================


async def test_create_and_read_person(tenant: Tenant) -> None:
    response = await tenant.post(
        "/v1/people",
        json={
            "user_name": " ada@example.com ",
            "display_name": "Ada Lovelace",
            "email": "ada@example.com",
            "title": "Engineer",
            "external_id": "hr-1",
        },
    )
    assert response.status_code == 201, response.text
    ada = response.json()
    assert response.headers["location"] == f"/v1/people/{ada['id']}"
    assert ada["user_name"] == "ada@example.com"
    assert ada["display_name"] == "Ada Lovelace"
    assert ada["external_id"] == "hr-1"
    assert ada["active"] is True
    assert ada["manager_id"] is None
    assert ada["created_at"].endswith("Z")
    assert await get(tenant, f"/v1/people/{ada['id']}") == ada


async def test_update_person(tenant: Tenant) -> None:
    ada = await person(tenant, "ada")
    url = f"/v1/people/{ada['id']}"
    response = await patch(tenant, url, {"title": "CTO", "email": "a@b.c"})
    assert response.status_code == 200, response.text
    assert (response.json()["title"], response.json()["email"]) == ("CTO", "a@b.c")
    assert (await get(tenant, url))["title"] == "CTO"


@pytest.mark.parametrize(
    "body",
    [
        {"user_name": "x"},  # display_name missing
        {"user_name": "", "display_name": "x"},
        {"user_name": "x", "display_name": "x", "email": "not-an-email"},
        {"user_name": "x" * 201, "display_name": "x"},
        {"user_name": "x", "display_name": "x", "manager_id": MISSING},
    ],
)
async def test_create_person_invalid(tenant: Tenant, body: Json) -> None:
    assert_problem(await tenant.post("/v1/people", json=body), 422)


@pytest.mark.parametrize("field", ["user_name", "display_name", "active"])
async def test_update_person_refuses_null(tenant: Tenant, field: str) -> None:
    ada = await person(tenant, "ada")
    assert_problem(await patch(tenant, f"/v1/people/{ada['id']}", {field: None}), 422)


async def test_user_name_is_unique_case_insensitively(tenant: Tenant) -> None:
    await person(tenant, "Ada")
    body = {"user_name": "ADA", "display_name": "Impostor"}
    problem = assert_problem(await tenant.post("/v1/people", json=body), 409)
    assert "user_name" in problem["detail"]
    bob = await person(tenant, "bob")
    assert_problem(await patch(tenant, f"/v1/people/{bob['id']}", {"user_name": "aDa"}), 409)
    people = (await tenant.get("/v1/people")).json()["items"]
    assert sorted(p["user_name"] for p in people) == ["Ada", "bob"]


async def test_renaming_oneself_in_another_case_is_allowed(tenant: Tenant) -> None:
    ada = await person(tenant, "ada")
    response = await patch(tenant, f"/v1/people/{ada['id']}", {"user_name": "ADA"})
    assert response.status_code == 200, response.text
    assert response.json()["user_name"] == "ADA"


async def test_external_id_is_unique(tenant: Tenant) -> None:
    await person(tenant, "ada", external_id="hr-1")
    body = {"user_name": "bob", "display_name": "Bob", "external_id": "hr-1"}
    assert_problem(await tenant.post("/v1/people", json=body), 409)


async def test_same_user_name_in_another_organization_is_fine(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    await person(tenant, "ada", external_id="hr-1")
    await person(other_tenant, "ADA", external_id="hr-1")


async def test_manager_is_set_and_must_exist(tenant: Tenant, other_tenant: Tenant) -> None:
    boss = await person(tenant, "boss")
    ada = await person(tenant, "ada", manager_id=boss["id"])
    assert ada["manager_id"] == boss["id"]
    url = f"/v1/people/{ada['id']}"
    assert_problem(await patch(tenant, url, {"manager_id": MISSING}), 422)
    foreign = await person(other_tenant, "mallory")
    assert_problem(await patch(tenant, url, {"manager_id": foreign["id"]}), 422)
    body = {"user_name": "x", "display_name": "X", "manager_id": foreign["id"]}
    assert_problem(await tenant.post("/v1/people", json=body), 422)
    cleared = await patch(tenant, url, {"manager_id": None})
    assert cleared.status_code == 200
    assert cleared.json()["manager_id"] is None


async def test_manager_loops_are_409(tenant: Tenant) -> None:
    a = await person(tenant, "a")
    b = await person(tenant, "b", manager_id=a["id"])
    c = await person(tenant, "c", manager_id=b["id"])
    assert_problem(await patch(tenant, f"/v1/people/{a['id']}", {"manager_id": a["id"]}), 409)
    assert_problem(await patch(tenant, f"/v1/people/{a['id']}", {"manager_id": b["id"]}), 409)
    assert_problem(await patch(tenant, f"/v1/people/{a['id']}", {"manager_id": c["id"]}), 409)
    assert (await get(tenant, f"/v1/people/{a['id']}"))["manager_id"] is None
    # A legal move: c reports to a directly.
    moved = await patch(tenant, f"/v1/people/{c['id']}", {"manager_id": a["id"]})
    assert moved.status_code == 200


async def test_delete_person_deactivates(tenant: Tenant, objective: Json) -> None:
    ada = await person(tenant, "ada")
    owned = await tenant.create(
        "/v1/objectives",
        {"title": "Ada's", "cycle_id": objective["cycle_id"], "owner_id": ada["id"]},
    )
    url = f"/v1/people/{ada['id']}"
    assert (await tenant.delete(url)).status_code == 204
    gone = await get(tenant, url)
    assert gone["active"] is False
    assert gone["user_name"] == "ada"
    assert (await tenant.delete(url)).status_code == 204  # deactivating twice is fine
    assert (await get(tenant, f"/v1/objectives/{owned['id']}"))["owner_id"] == ada["id"]
    active = (await tenant.get("/v1/people", params={"active": "true"})).json()["items"]
    assert ada["id"] not in [p["id"] for p in active]
    inactive = (await tenant.get("/v1/people", params={"active": "false"})).json()["items"]
    assert [p["id"] for p in inactive] == [ada["id"]]
    everyone = (await tenant.get("/v1/people")).json()["items"]
    assert ada["id"] in [p["id"] for p in everyone]
    # The user name stays taken.
    assert_problem(
        await tenant.post("/v1/people", json={"user_name": "ADA", "display_name": "A"}), 409
    )
    back = await patch(tenant, url, {"active": True})
    assert back.json()["active"] is True


async def test_unknown_person_is_404(tenant: Tenant) -> None:
    assert_problem(await tenant.get(f"/v1/people/{MISSING}"), 404)
    assert_problem(await tenant.delete(f"/v1/people/{MISSING}"), 404)
    assert_problem(await patch(tenant, f"/v1/people/{MISSING}", {"title": "x"}), 404)


# ==== teams ==============================================================================


async def test_create_team_with_parent_and_members(tenant: Tenant) -> None:
    ada, bob = await person(tenant, "ada"), await person(tenant, "bob")
    parent = await team(tenant, "Engineering")
    response = await tenant.post(
        "/v1/teams",
        json={
            "name": "Platform",
            "description": "Runs things",
            "external_id": "t-1",
            "parent_id": parent["id"],
            "member_ids": [ada["id"], bob["id"], ada["id"]],
        },
    )
    assert response.status_code == 201, response.text
    platform = response.json()
    assert response.headers["location"] == f"/v1/teams/{platform['id']}"
    assert platform["parent_id"] == parent["id"]
    assert sorted(platform["member_ids"]) == sorted([ada["id"], bob["id"]])
    assert await get(tenant, f"/v1/teams/{platform['id']}") == platform
    children = (await tenant.get("/v1/teams", params={"parent_id": parent["id"]})).json()
    assert [t["id"] for t in children["items"]] == [platform["id"]]


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "x", "parent_id": MISSING},
        {"name": "x", "member_ids": [MISSING]},
        {"name": "x", "member_ids": ["nope"]},
    ],
)
async def test_create_team_invalid(tenant: Tenant, body: Json) -> None:
    assert_problem(await tenant.post("/v1/teams", json=body), 422)
    assert (await tenant.get("/v1/teams")).json()["items"] == []


async def test_team_members_from_another_organization_are_refused(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    foreign = await person(other_tenant, "mallory")
    body = {"name": "x", "member_ids": [foreign["id"]]}
    assert_problem(await tenant.post("/v1/teams", json=body), 422)
    core = await team(tenant, "Core")
    assert_problem(await tenant.put(f"/v1/teams/{core['id']}/members/{foreign['id']}"), 404)
    url = f"/v1/teams/{core['id']}"
    assert_problem(await patch(tenant, url, {"member_ids": [foreign["id"]]}), 422)
    assert (await get(tenant, url))["member_ids"] == []


async def test_team_external_id_is_unique(tenant: Tenant) -> None:
    await team(tenant, "A", external_id="t-1")
    assert_problem(await tenant.post("/v1/teams", json={"name": "B", "external_id": "t-1"}), 409)
    b = await team(tenant, "B")
    assert_problem(await patch(tenant, f"/v1/teams/{b['id']}", {"external_id": "t-1"}), 409)


async def test_team_parent_loops_are_409(tenant: Tenant) -> None:
    a = await team(tenant, "A")
    b = await team(tenant, "B", parent_id=a["id"])
    c = await team(tenant, "C", parent_id=b["id"])
    assert_problem(await patch(tenant, f"/v1/teams/{a['id']}", {"parent_id": a["id"]}), 409)
    assert_problem(await patch(tenant, f"/v1/teams/{a['id']}", {"parent_id": b["id"]}), 409)
    assert_problem(await patch(tenant, f"/v1/teams/{a['id']}", {"parent_id": c["id"]}), 409)
    assert (await get(tenant, f"/v1/teams/{a['id']}"))["parent_id"] is None
    assert_problem(await patch(tenant, f"/v1/teams/{a['id']}", {"parent_id": MISSING}), 422)
    moved = await patch(tenant, f"/v1/teams/{c['id']}", {"parent_id": a["id"]})
    assert moved.status_code == 200
    assert moved.json()["parent_id"] == a["id"]
    root = await patch(tenant, f"/v1/teams/{c['id']}", {"parent_id": None})
    assert root.json()["parent_id"] is None


async def test_parent_team_from_another_organization_is_refused(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    foreign = await team(other_tenant, "Theirs")
    body = {"name": "Mine", "parent_id": foreign["id"]}
    assert_problem(await tenant.post("/v1/teams", json=body), 422)
    mine = await team(tenant, "Mine")
    url = f"/v1/teams/{mine['id']}"
    assert_problem(await patch(tenant, url, {"parent_id": foreign["id"]}), 422)
    assert (await get(tenant, url))["parent_id"] is None


async def test_add_and_remove_members(tenant: Tenant) -> None:
    ada, bob = await person(tenant, "ada"), await person(tenant, "bob")
    core = await team(tenant, "Core")
    url = f"/v1/teams/{core['id']}"
    etag = (await tenant.get(url)).headers["etag"]

    added = await tenant.put(f"{url}/members/{ada['id']}")
    assert added.status_code == 200, added.text
    assert added.json()["member_ids"] == [ada["id"]]
    again = await tenant.put(f"{url}/members/{ada['id']}")  # no-op
    assert again.status_code == 200
    assert again.json()["member_ids"] == [ada["id"]]
    await tenant.put(f"{url}/members/{bob['id']}")
    got = await tenant.get(url)
    assert sorted(got.json()["member_ids"]) == sorted([ada["id"], bob["id"]])
    assert got.headers["etag"] != etag  # membership moves the version

    assert (await tenant.delete(f"{url}/members/{ada['id']}")).status_code == 204
    assert (await get(tenant, url))["member_ids"] == [bob["id"]]
    assert_problem(await tenant.delete(f"{url}/members/{ada['id']}"), 404)
    assert_problem(await tenant.put(f"{url}/members/{MISSING}"), 404)
    assert_problem(await tenant.put(f"/v1/teams/{MISSING}/members/{ada['id']}"), 404)


async def test_replace_members(tenant: Tenant) -> None:
    ada, bob, cy = [await person(tenant, n) for n in ("ada", "bob", "cy")]
    core = await team(tenant, "Core", member_ids=[ada["id"], bob["id"]])
    url = f"/v1/teams/{core['id']}"
    response = await patch(tenant, url, {"member_ids": [cy["id"], bob["id"]]})
    assert response.status_code == 200, response.text
    assert sorted(response.json()["member_ids"]) == sorted([bob["id"], cy["id"]])
    assert sorted((await get(tenant, url))["member_ids"]) == sorted([bob["id"], cy["id"]])
    renamed = await patch(tenant, url, {"name": "Kernel"})  # membership untouched
    assert sorted(renamed.json()["member_ids"]) == sorted([bob["id"], cy["id"]])
    emptied = await patch(tenant, url, {"member_ids": []})
    assert emptied.json()["member_ids"] == []


async def test_deactivated_person_stays_a_member(tenant: Tenant) -> None:
    ada = await person(tenant, "ada")
    core = await team(tenant, "Core", member_ids=[ada["id"]])
    await tenant.delete(f"/v1/people/{ada['id']}")
    assert (await get(tenant, f"/v1/teams/{core['id']}"))["member_ids"] == [ada["id"]]


async def test_delete_team(tenant: Tenant, cycle: Json) -> None:
    parent = await team(tenant, "Parent")
    child = await team(tenant, "Child", parent_id=parent["id"])
    owned = await tenant.create(
        "/v1/objectives", {"title": "x", "cycle_id": cycle["id"], "team_id": child["id"]}
    )
    assert_problem(await tenant.delete(f"/v1/teams/{parent['id']}"), 409)
    assert (await tenant.delete(f"/v1/teams/{child['id']}")).status_code == 204
    assert_problem(await tenant.get(f"/v1/teams/{child['id']}"), 404)
    assert (await get(tenant, f"/v1/objectives/{owned['id']}"))["team_id"] is None
    assert (await tenant.delete(f"/v1/teams/{parent['id']}")).status_code == 204
    assert_problem(await tenant.delete(f"/v1/teams/{parent['id']}"), 404)


# ==== cycles =============================================================================


async def test_cycle_crud(tenant: Tenant) -> None:
    response = await tenant.post(
        "/v1/cycles", json={"name": "2027-Q1", "start_date": "2027-01-01", "end_date": "2027-03-31"}
    )
    assert response.status_code == 201, response.text
    q1 = response.json()
    assert response.headers["location"] == f"/v1/cycles/{q1['id']}"
    assert q1["status"] == "planning"
    assert (q1["start_date"], q1["end_date"]) == ("2027-01-01", "2027-03-31")
    url = f"/v1/cycles/{q1['id']}"
    assert await get(tenant, url) == q1
    moved = await patch(tenant, url, {"end_date": "2027-04-30", "status": "active"})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["end_date"], moved.json()["status"]) == ("2027-04-30", "active")
    listed = (await tenant.get("/v1/cycles", params={"status": "active"})).json()["items"]
    assert [c["id"] for c in listed] == [q1["id"]]
    assert (await tenant.get("/v1/cycles", params={"status": "closed"})).json()["items"] == []
    assert (await tenant.delete(url)).status_code == 204
    assert_problem(await tenant.get(url), 404)


async def test_one_day_cycle_is_allowed(tenant: Tenant) -> None:
    day = await tenant.create(
        "/v1/cycles", {"name": "hackday", "start_date": "2027-05-05", "end_date": "2027-05-05"}
    )
    assert day["start_date"] == day["end_date"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "start_date": "2027-02-01", "end_date": "2027-01-31"},
        {"name": "x", "start_date": "2027-02-30", "end_date": "2027-03-01"},
        {"name": "x", "start_date": "soon", "end_date": "2027-03-01"},
        {"name": "x", "start_date": "2027-01-01"},
        {"name": "", "start_date": "2027-01-01", "end_date": "2027-03-01"},
        {"name": "x", "start_date": "2027-01-01", "end_date": "2027-03-01", "status": "open"},
    ],
)
async def test_create_cycle_invalid(tenant: Tenant, body: Json) -> None:
    assert_problem(await tenant.post("/v1/cycles", json=body), 422)


async def test_patch_cycle_date_order(tenant: Tenant, cycle: Json) -> None:
    url = f"/v1/cycles/{cycle['id']}"
    assert_problem(await patch(tenant, url, {"end_date": "2026-09-30"}), 422)
    assert_problem(await patch(tenant, url, {"start_date": "2027-01-01"}), 422)
    assert_problem(await patch(tenant, url, {"name": None}), 422)
    unchanged = await get(tenant, url)
    assert (unchanged["start_date"], unchanged["end_date"]) == ("2026-10-01", "2026-12-31")
    both = await patch(tenant, url, {"start_date": "2027-01-01", "end_date": "2027-03-31"})
    assert both.status_code == 200, both.text


async def test_duplicate_cycle_name_is_409(tenant: Tenant, cycle: Json) -> None:
    body = {"name": "2026-Q4", "start_date": "2027-01-01", "end_date": "2027-03-31"}
    assert_problem(await tenant.post("/v1/cycles", json=body), 409)
    other = await tenant.create("/v1/cycles", {**body, "name": "2027-Q1"})
    assert_problem(await patch(tenant, f"/v1/cycles/{other['id']}", {"name": "2026-Q4"}), 409)
    same = await patch(tenant, f"/v1/cycles/{cycle['id']}", {"name": "2026-Q4"})
    assert same.status_code == 200  # keeping one's own name is no conflict


async def test_cycle_names_are_per_organization(tenant: Tenant, other_tenant: Tenant) -> None:
    body = {"name": "2027-Q1", "start_date": "2027-01-01", "end_date": "2027-03-31"}
    await tenant.create("/v1/cycles", body)
    await other_tenant.create("/v1/cycles", body)


async def test_cycle_with_objectives_cannot_be_deleted(tenant: Tenant, objective: Json) -> None:
    url = f"/v1/cycles/{objective['cycle_id']}"
    assert_problem(await tenant.delete(url), 409)
    assert (await tenant.get(url)).status_code == 200
    assert (await tenant.delete(f"/v1/objectives/{objective['id']}")).status_code == 204
    assert (await tenant.delete(url)).status_code == 204
