"""Deactivation with each orphan policy: flagged or reassigned, with events in the outbox."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from service.models import Event
from tests.conftest import Tenant

Json = dict[str, Any]


async def events(app: FastAPI, tenant: Tenant) -> list[Json]:
    """The people and ownership events (goal events of the set-up are not the subject)."""
    async with app.state.sessionmaker() as session:
        rows = await session.scalars(
            select(Event)
            .where(
                Event.organization_id == tenant.organization_id,
                Event.type.startswith("person.") | Event.type.startswith("ownership."),
            )
            .order_by(Event.occurred_at, Event.id)
        )
        return [json.loads(row.body) for row in rows.all()]


async def person(tenant: Tenant, name: str, manager: Json | None = None) -> Json:
    body: Json = {"user_name": name, "display_name": name.title()}
    if manager is not None:
        body["manager_id"] = manager["id"]
    return await tenant.create("/v1/people", body)


async def holdings(tenant: Tenant, owner: Json, cycle: Json) -> tuple[Json, Json, Json]:
    objective = await tenant.create(
        "/v1/objectives",
        {"title": "Ship", "cycle_id": cycle["id"], "owner_id": owner["id"], "status": "active"},
    )
    kr = await tenant.create(
        f"/v1/objectives/{objective['id']}/key-results",
        {"title": "Grow", "type": "increase", "start": 0, "target": 10, "owner_id": owner["id"]},
    )
    kpi = await tenant.create("/v1/kpis", {"key": "nps", "name": "NPS", "owner_id": owner["id"]})
    return objective, kr, kpi


async def test_flag_policy_keeps_the_owner_and_lists_the_orphans(
    app: FastAPI, tenant: Tenant, cycle: Json
) -> None:
    assert (await tenant.get("/v1/organization")).json()["orphan_policy"] == "flag"
    boss = await person(tenant, "boss")
    ada = await person(tenant, "ada", boss)
    objective, kr, kpi = await holdings(tenant, ada, cycle)
    other = await tenant.create("/v1/objectives", {"title": "Other", "cycle_id": cycle["id"]})
    assert (await tenant.get("/v1/objectives?orphaned=true")).json()["items"] == []

    assert (await tenant.delete(f"/v1/people/{ada['id']}")).status_code == 204

    orphans = (await tenant.get("/v1/objectives?orphaned=true")).json()["items"]
    assert [o["id"] for o in orphans] == [objective["id"]]
    kept = (await tenant.get("/v1/objectives?orphaned=false")).json()["items"]
    assert [o["id"] for o in kept] == [other["id"]]
    owned = (await tenant.get(f"/v1/people/{ada['id']}/ownership")).json()
    assert owned["orphaned"] is True and owned["active"] is False
    assert [o["id"] for o in owned["objectives"]] == [objective["id"]]
    assert [k["id"] for k in owned["key_results"]] == [kr["id"]]
    assert [k["id"] for k in owned["kpis"]] == [kpi["id"]]
    recorded = await events(app, tenant)
    assert [e["type"] for e in recorded] == ["person.deactivated", "ownership.orphaned"]
    data = recorded[1]["data"]
    assert data["person_id"] == ada["id"] and data["reason"] == "policy"
    assert data["objective_ids"] == [objective["id"]] and data["kpi_ids"] == [kpi["id"]]

    # Reactivation restores them: nothing is orphaned any more.
    response = await tenant.patch(f"/v1/people/{ada['id']}", json={"active": True})
    assert response.status_code == 200
    assert (await tenant.get("/v1/objectives?orphaned=true")).json()["items"] == []
    assert (await events(app, tenant))[-1]["type"] == "person.reactivated"


async def test_reassign_to_nearest_active_manager(
    app: FastAPI, tenant: Tenant, cycle: Json
) -> None:
    response = await tenant.patch("/v1/organization", json={"orphan_policy": "reassign_to_manager"})
    assert response.status_code == 200 and response.json()["orphan_policy"] == "reassign_to_manager"
    ceo = await person(tenant, "ceo")
    boss = await person(tenant, "boss", ceo)
    ada = await person(tenant, "ada", boss)
    objective, kr, kpi = await holdings(tenant, ada, cycle)
    await tenant.patch(f"/v1/people/{boss['id']}", json={"active": False})  # owns nothing

    await tenant.patch(f"/v1/people/{ada['id']}", json={"active": False})

    assert (await tenant.get(f"/v1/objectives/{objective['id']}")).json()["owner_id"] == ceo["id"]
    assert (await tenant.get(f"/v1/key-results/{kr['id']}")).json()["owner_id"] == ceo["id"]
    assert (await tenant.get(f"/v1/kpis/{kpi['id']}")).json()["owner_id"] == ceo["id"]
    assert (await tenant.get("/v1/objectives?orphaned=true")).json()["items"] == []
    recorded = [e for e in await events(app, tenant) if e["type"].startswith("ownership.")]
    assert len(recorded) == 1 and recorded[0]["type"] == "ownership.reassigned"
    assert recorded[0]["data"]["to_person_id"] == ceo["id"]
    assert recorded[0]["data"]["key_result_ids"] == [kr["id"]]


async def test_reassign_without_an_active_manager_flags(
    app: FastAPI, tenant: Tenant, cycle: Json
) -> None:
    await tenant.patch("/v1/organization", json={"orphan_policy": "reassign_to_manager"})
    ada = await person(tenant, "ada")
    objective, _, _ = await holdings(tenant, ada, cycle)
    await tenant.delete(f"/v1/people/{ada['id']}")
    assert (await tenant.get(f"/v1/objectives/{objective['id']}")).json()["owner_id"] == ada["id"]
    orphaned = [e for e in await events(app, tenant) if e["type"] == "ownership.orphaned"]
    assert orphaned[0]["data"]["reason"] == "no_active_manager"


async def test_scim_deactivation_applies_the_policy(
    app: FastAPI, tenant: Tenant, cycle: Json
) -> None:
    scim = await tenant.key_with("scim")
    created = await scim.post("/scim/v2/Users", json={"userName": "ada@example.com"})
    ada = {"id": created.json()["id"]}
    objective, _, _ = await holdings(tenant, ada, cycle)
    patch = {"Operations": [{"op": "replace", "value": {"active": False}}]}
    assert (await scim.patch(f"/scim/v2/Users/{ada['id']}", json=patch)).status_code == 200
    orphans = (await tenant.get("/v1/objectives?orphaned=true")).json()["items"]
    assert [o["id"] for o in orphans] == [objective["id"]]
    types = [e["type"] for e in await events(app, tenant)]
    assert types == ["person.deactivated", "ownership.orphaned"]


async def test_organization_settings_need_admin_and_stay_in_their_tenant(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    writer = await tenant.key_with("write")
    assert (await writer.get("/v1/organization")).status_code == 200
    forbidden = await writer.patch("/v1/organization", json={"orphan_policy": "flag"})
    assert forbidden.status_code == 403
    bad = await tenant.patch("/v1/organization", json={"orphan_policy": "delete"})
    assert bad.status_code == 422
    assert (await tenant.patch("/v1/organization", json={"orphan_policy": None})).status_code == 422
    await tenant.patch("/v1/organization", json={"orphan_policy": "reassign_to_manager"})
    assert (await other_tenant.get("/v1/organization")).json()["orphan_policy"] == "flag"


async def test_ownership_is_scoped(tenant: Tenant, other_tenant: Tenant) -> None:
    ada = await person(tenant, "ada")
    assert (await other_tenant.get(f"/v1/people/{ada['id']}/ownership")).status_code == 404
    ingest = await tenant.key_with("ingest")
    assert (await ingest.get(f"/v1/people/{ada['id']}/ownership")).status_code == 403
