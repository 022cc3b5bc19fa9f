"""Goal changes write their events in the same transaction (the outbox)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Tenant


async def events_of(tenant: Tenant, type_pattern: str) -> list[dict[str, Any]]:
    listed = (await tenant.get("/v1/events", params={"type": type_pattern})).json()["items"]
    return [(await tenant.get(f"/v1/events/{e['id']}")).json()["body"] for e in listed]


async def test_objective_lifecycle_events(tenant: Tenant, cycle: dict[str, Any]) -> None:
    objective = await tenant.create("/v1/objectives", {"title": "Grow", "cycle_id": cycle["id"]})
    path = f"/v1/objectives/{objective['id']}"
    assert (await tenant.patch(path, json={"title": "Grow more"})).status_code == 200
    assert (await tenant.patch(path, json={"status": "active"})).status_code == 200
    assert (await tenant.patch(path, json={"status": "active"})).status_code == 200  # no change
    bodies = await events_of(tenant, "objective.*")
    assert [b["type"] for b in bodies] == [
        "objective.created",
        "objective.updated",
        "objective.updated",
        "objective.status_changed",
    ]
    created, renamed, activated, status = bodies
    assert created["data"]["objective"]["id"] == objective["id"]
    assert renamed["data"]["changed"] == ["title"]
    assert activated["data"]["changed"] == ["status"]
    assert (status["data"]["from"], status["data"]["to"]) == ("draft", "active")


async def test_key_result_events(tenant: Tenant, objective: dict[str, Any]) -> None:
    kr = await tenant.create(
        f"/v1/objectives/{objective['id']}/key-results",
        {"title": "Revenue", "type": "increase", "start": 0, "target": 100},
    )
    await tenant.create(f"/v1/key-results/{kr['id']}/check-ins", {"value": 40, "confidence": 0.8})
    created, checked_in = await events_of(tenant, "key_result.*")
    assert created["type"] == "key_result.created"
    assert created["data"]["key_result"]["id"] == kr["id"]
    assert checked_in["type"] == "key_result.checked_in"
    assert checked_in["data"]["check_in"]["value"] == 40
    assert checked_in["data"]["key_result"]["progress"] == 0.4


async def test_a_refused_change_writes_no_event(tenant: Tenant, cycle: dict[str, Any]) -> None:
    response = await tenant.post("/v1/objectives", json={"title": "", "cycle_id": cycle["id"]})
    assert response.status_code == 422
    objective = await tenant.create("/v1/objectives", {"title": "X", "cycle_id": cycle["id"]})
    stale = await tenant.patch(
        f"/v1/objectives/{objective['id']}", json={"title": "Y"}, headers={"If-Match": '"99"'}
    )
    assert stale.status_code == 412
    assert [b["type"] for b in await events_of(tenant, "objective.*")] == ["objective.created"]


async def test_kpi_driven_check_ins_report_one_event_per_key_result(
    tenant: Tenant, objective: dict[str, Any]
) -> None:
    kpi = await tenant.create("/v1/kpis", {"key": "mrr", "name": "MRR"})
    kr = await tenant.create(
        f"/v1/objectives/{objective['id']}/key-results",
        {"title": "MRR", "type": "increase", "start": 0, "target": 100, "kpi_id": kpi["id"]},
    )
    readings = [{"value": v, "observed_at": f"2026-11-0{v}T00:00:00Z"} for v in (1, 2, 3)]
    response = await tenant.post("/v1/kpis/mrr/readings", json=readings)
    assert response.status_code in (200, 201, 207), response.text
    [checked_in] = await events_of(tenant, "key_result.checked_in")
    assert checked_in["data"]["check_ins"] == 3
    assert checked_in["data"]["key_result"]["id"] == kr["id"]
    assert checked_in["data"]["key_result"]["current"] == 3
