"""Bulk HRIS sync: upsert and full snapshots, dry runs, managers and teams in the payload."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import FastAPI

from service.people import repository as people_repository
from tests.conftest import Tenant

Json = dict[str, Any]


async def sync(tenant: Tenant, **body: Any) -> Json:
    response = await tenant.post("/v1/people/sync", json=body)
    assert response.status_code == 200, response.text
    result: Json = response.json()
    return result


SNAPSHOT: list[Json] = [
    {"external_id": "e1", "email": "ceo@acme.test", "display_name": "Ceo"},
    {"external_id": "e2", "email": "ada@acme.test", "display_name": "Ada", "manager": "e1"},
    {"email": "alan@acme.test", "display_name": "Alan", "manager": "ada@acme.test"},
]
TEAMS: list[Json] = [
    {"external_id": "t-eng", "name": "Engineering", "members": ["e2", "alan@acme.test"]},
    {"external_id": "t-web", "name": "Web", "parent": "t-eng", "members": ["e2"]},
]


async def people_by_name(tenant: Tenant) -> dict[str, Json]:
    items = (await tenant.get("/v1/people?limit=200")).json()["items"]
    return {p["user_name"]: p for p in items}


async def test_upsert_creates_then_updates_with_managers_and_teams(tenant: Tenant) -> None:
    first = await sync(tenant, people=SNAPSHOT, teams=TEAMS)
    assert [r["result"] for r in first["people"]] == ["created"] * 3
    assert [r["result"] for r in first["teams"]] == ["created"] * 2
    assert first["counts"] == {"created": 5}
    people = await people_by_name(tenant)
    ceo, ada, alan = (people[n] for n in ("ceo@acme.test", "ada@acme.test", "alan@acme.test"))
    assert ada["manager_id"] == ceo["id"] and alan["manager_id"] == ada["id"]
    web = (await tenant.get(f"/v1/teams/{first['teams'][1]['id']}")).json()
    assert web["parent_id"] == first["teams"][0]["id"] and web["member_ids"] == [ada["id"]]

    again = await sync(tenant, people=SNAPSHOT, teams=TEAMS)
    assert again["counts"] == {"unchanged": 5}
    renamed = [{**SNAPSHOT[1], "title": "CTO"}]
    assert (await sync(tenant, people=renamed))["people"][0]["result"] == "updated"
    assert (await people_by_name(tenant))["ada@acme.test"]["title"] == "CTO"


async def test_full_deactivates_people_left_out_and_needs_admin(tenant: Tenant) -> None:
    await sync(tenant, people=SNAPSHOT)
    writer = await tenant.key_with("write")
    refused = await writer.post("/v1/people/sync", json={"mode": "full", "people": SNAPSHOT[:1]})
    assert refused.status_code == 403
    result = await sync(tenant, mode="full", people=SNAPSHOT[:2])
    gone = [r for r in result["people"] if r["result"] == "deactivated"]
    assert [r["key"] for r in gone] == ["alan@acme.test"] and gone[0]["index"] is None
    people = await people_by_name(tenant)
    assert people["alan@acme.test"]["active"] is False and people["ada@acme.test"]["active"]


async def test_dry_run_reports_and_changes_nothing(tenant: Tenant) -> None:
    await sync(tenant, people=SNAPSHOT[:1])
    result = await sync(tenant, dry_run=True, mode="full", people=SNAPSHOT[1:], teams=TEAMS)
    assert result["dry_run"] is True
    assert [r["result"] for r in result["people"]] == ["created", "created", "deactivated"]
    assert all(r["id"] is None for r in result["people"][:2])
    people = await people_by_name(tenant)
    assert list(people) == ["ceo@acme.test"] and people["ceo@acme.test"]["active"]
    assert (await tenant.get("/v1/teams")).json()["items"] == []


async def test_row_errors_do_not_stop_the_rest(tenant: Tenant) -> None:
    rows = [
        {"external_id": "e1", "email": "a@acme.test", "display_name": "A", "manager": "nobody"},
        {"external_id": "e1", "email": "b@acme.test", "display_name": "Twice"},
        {
            "external_id": "e3",
            "email": "c@acme.test",
            "display_name": "C",
            "user_name": "A@acme.test",
        },
        {"external_id": "e4", "email": "d@acme.test", "display_name": "D", "manager": "e5"},
        {"external_id": "e5", "email": "e@acme.test", "display_name": "E", "manager": "e4"},
    ]
    result = await sync(
        tenant, people=rows, teams=[{"external_id": "t", "name": "T", "parent": "x"}]
    )
    people = result["people"]
    assert people[0]["result"] == "created" and "nobody" in people[0]["errors"][0]
    assert people[1]["result"] == "error" and people[2]["result"] == "error"
    assert people[3]["errors"] == [] and "reports to" in people[4]["errors"][0]
    assert "no team" in result["teams"][0]["errors"][0]


async def test_bad_payloads_are_422(tenant: Tenant) -> None:
    no_key = {"people": [{"display_name": "Nobody"}]}
    assert (await tenant.post("/v1/people/sync", json=no_key)).status_code == 422
    bad_mode = {"mode": "merge", "people": []}
    assert (await tenant.post("/v1/people/sync", json=bad_mode)).status_code == 422


async def test_sync_stays_in_its_organization(tenant: Tenant, other_tenant: Tenant) -> None:
    await sync(tenant, people=SNAPSHOT)
    result = await sync(other_tenant, mode="full", people=SNAPSHOT[:1])
    assert [r["result"] for r in result["people"]] == ["created"]
    assert len(await people_by_name(tenant)) == 3
    assert all(p["active"] for p in (await people_by_name(tenant)).values())


async def test_a_sync_holding_people_lets_memberships_check_them(
    app: FastAPI, tenant: Tenant
) -> None:
    """The sync locks every person; a membership added meanwhile only needs the key-share
    lock its foreign-key check takes on the person, and must not wait for the sync (it
    waited, and the sync then waited for that team: a deadlock)."""
    person = await tenant.create("/v1/people", {"user_name": "ada", "display_name": "Ada"})
    team = await tenant.create("/v1/teams", {"name": "Core"})
    async with app.state.sessionmaker() as sync_session, sync_session.begin():
        locked = await people_repository.all_people(sync_session, tenant.organization_id)
        assert [p.id for p in locked] == [uuid.UUID(person["id"])]
        added = await asyncio.wait_for(
            tenant.put(f"/v1/teams/{team['id']}/members/{person['id']}"), timeout=10
        )
        assert added.status_code in (200, 201), added.text


async def test_full_adopts_a_person_first_synced_by_email_when_an_external_id_arrives(
    tenant: Tenant,
) -> None:
    """Ada was synced by e-mail alone, so her user name is her e-mail: the row that brings
    her external id is about her, not a clash with her own user name."""
    ada = {"email": "ada@acme.test", "display_name": "Ada"}
    created = (await sync(tenant, people=[ada]))["people"][0]
    result = await sync(tenant, mode="full", people=[{**ada, "external_id": "E1"}])
    assert [(r["result"], r["id"]) for r in result["people"]] == [("updated", created["id"])]
    person = (await people_by_name(tenant))["ada@acme.test"]
    assert person["external_id"] == "E1" and person["active"] is True


async def test_full_never_deactivates_people_named_by_rows_that_error(tenant: Tenant) -> None:
    """Swapping user names errors on both rows (each name is still the other's), but both
    people are in the snapshot: a full sync deactivates neither. So does a row whose e-mail
    belongs to another external id (an HRIS that re-keyed its people)."""
    rows: list[Json] = [
        {"external_id": "A", "email": "a@acme.test", "user_name": "a", "display_name": "A"},
        {"external_id": "B", "email": "b@acme.test", "user_name": "b", "display_name": "B"},
        {"external_id": "C", "email": "c@acme.test", "display_name": "C"},
    ]
    await sync(tenant, people=rows)
    swapped = [{**rows[0], "user_name": "b"}, {**rows[1], "user_name": "a"}]
    rekeyed = {**rows[2], "external_id": "C2"}
    result = await sync(tenant, mode="full", people=[*swapped, rekeyed])
    assert [r["result"] for r in result["people"]] == ["error"] * 3
    people = await people_by_name(tenant)
    assert {name: p["active"] for name, p in people.items()} == {
        "a": True,
        "b": True,
        "c@acme.test": True,
    }


async def test_user_names_and_emails_given_up_earlier_in_the_snapshot_are_free(
    tenant: Tenant,
) -> None:
    rows: list[Json] = [
        {"external_id": "A", "email": "a@acme.test", "user_name": "a", "display_name": "A"},
        {"external_id": "B", "email": "b@acme.test", "user_name": "b", "display_name": "B"},
    ]
    await sync(tenant, people=rows)
    moved = [
        {**rows[0], "user_name": "c", "email": "c@acme.test"},
        {**rows[1], "user_name": "a"},
        {"email": "a@acme.test", "display_name": "New A"},
    ]
    result = await sync(tenant, people=moved)
    assert [r["result"] for r in result["people"]] == ["updated", "updated", "created"]
    people = await people_by_name(tenant)
    assert people["c"]["external_id"] == "A" and people["a"]["external_id"] == "B"
    assert people["a@acme.test"]["display_name"] == "New A"
