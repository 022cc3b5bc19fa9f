"""Changes that walk a hierarchy (a manager's chain, a team's ancestors) are serialised per
organization: each sees the other's change, so two at once cannot close a loop."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from tests.conftest import Tenant, until_waiting_on_a_lock

LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"


async def loop_attempt_waits_and_is_refused(
    app: FastAPI, tenant: Tenant, name: str, ids: tuple[str, str], patch: Any, sql: str
) -> None:
    """``sql`` (the first change, under the lock ``name``) is held uncommitted while
    ``patch`` (the second) runs: it must wait for the lock, then see the first and refuse."""
    async with app.state.sessionmaker() as holder, holder.begin():
        await holder.execute(text(LOCK), {"key": f"meridian.{name}.{tenant.organization_id}"})
        await holder.execute(text(sql), {"child": uuid.UUID(ids[0]), "up": uuid.UUID(ids[1])})
        second = asyncio.create_task(patch)
        await until_waiting_on_a_lock(app)
    response = await second
    assert response.status_code == 409, response.text


async def test_three_people_cannot_close_a_loop_of_managers(app: FastAPI, tenant: Tenant) -> None:
    """Bob reports to Carol; Ada gets Bob as her manager while Carol gets Ada as hers. A
    two-person loop is caught by row locks anyway (the foreign-key check on the new manager
    locks that row); a longer one only by the lock on the whole hierarchy."""
    ada, bob, carol = [
        await tenant.create("/v1/people", {"user_name": name, "display_name": name})
        for name in ("ada", "bob", "carol")
    ]
    assert (await patch(tenant, f"/v1/people/{bob['id']}", manager_id=carol["id"])).is_success
    second = patch(tenant, f"/v1/people/{carol['id']}", manager_id=ada["id"])
    sql = "UPDATE people SET manager_id = :up WHERE id = :child"
    ids = (ada["id"], bob["id"])
    await loop_attempt_waits_and_is_refused(app, tenant, "people.managers", ids, second, sql)
    assert (await tenant.get(f"/v1/people/{carol['id']}")).json()["manager_id"] is None


async def test_three_teams_cannot_close_a_loop_of_parents(app: FastAPI, tenant: Tenant) -> None:
    core, edge, mid = [await tenant.create("/v1/teams", {"name": n}) for n in ("C", "E", "M")]
    assert (await patch(tenant, f"/v1/teams/{edge['id']}", parent_id=mid["id"])).is_success
    second = patch(tenant, f"/v1/teams/{mid['id']}", parent_id=core["id"])
    sql = "UPDATE teams SET parent_id = :up WHERE id = :child"
    ids = (core["id"], edge["id"])
    await loop_attempt_waits_and_is_refused(app, tenant, "teams.parents", ids, second, sql)
    assert (await tenant.get(f"/v1/teams/{mid['id']}")).json()["parent_id"] is None


def patch(tenant: Tenant, url: str, **changes: Any) -> Coroutine[Any, Any, httpx.Response]:
    return tenant.patch(url, json=changes, headers={"If-Match": "*"})


async def test_two_scim_groups_of_one_name_cannot_both_be_created(
    app: FastAPI, tenant: Tenant
) -> None:
    """The name check has no unique index behind it (REST allows teams of one name): a
    Group created while another of its name is still uncommitted must wait and see it."""
    scim = await tenant.key_with("scim")
    async with app.state.sessionmaker() as holder, holder.begin():
        key = f"meridian.scim.group-names.eng.{tenant.organization_id}"
        await holder.execute(text(LOCK), {"key": key})
        await holder.execute(
            text(
                "INSERT INTO teams (id, organization_id, name, version)"
                " VALUES (:id, :org, 'Eng', 1)"
            ),
            {"id": uuid.uuid4(), "org": tenant.organization_id},
        )
        second = asyncio.create_task(scim.post("/scim/v2/Groups", json={"displayName": "ENG"}))
        await until_waiting_on_a_lock(app)
    response = await second
    assert response.status_code == 409, response.text
    assert response.json()["scimType"] == "uniqueness"
