"""Key results driven by a KPI: each reading becomes a check-in with source `kpi`."""

from __future__ import annotations

from typing import Any

from tests.conftest import Tenant


async def driven_kr(tenant: Tenant, objective: dict[str, Any]) -> dict[str, Any]:
    kpi = await tenant.create("/v1/kpis", {"key": "signups", "name": "Signups"})
    body = {"title": "Reach 100 signups", "type": "increase", "start": 0, "target": 100}
    return await tenant.create(
        f"/v1/objectives/{objective['id']}/key-results", body | {"kpi_id": kpi["id"]}
    )


async def test_readings_move_the_key_result_and_its_objective(
    tenant: Tenant, objective: dict[str, Any]
) -> None:
    kr = await driven_kr(tenant, objective)
    batch = [
        {"kpi": "signups", "value": 20, "observed_at": "2026-11-01T00:00:00Z", "source": "crm"},
        {"kpi": "signups", "value": 40, "observed_at": "2026-11-02T00:00:00Z", "source": "crm"},
        {"kpi": "signups", "value": 5, "observed_at": "2026-10-01T00:00:00Z", "source": "crm"},
    ]
    assert (await tenant.post("/v1/readings", json={"readings": batch})).json()["created"] == 3
    got = (await tenant.get(f"/v1/key-results/{kr['id']}")).json()
    assert got["current"] == 40.0 and got["progress"]["value"] == 0.4
    check_ins = (await tenant.get(f"/v1/key-results/{kr['id']}/check-ins")).json()["items"]
    assert [(c["value"], c["source"], c["author"]) for c in check_ins] == [
        (40.0, "kpi", "crm"),
        (20.0, "kpi", "crm"),
        (5.0, "kpi", "crm"),
    ]
    assert check_ins[0]["value_before"] == 20.0
    assert (await tenant.get(f"/v1/objectives/{objective['id']}")).json()["progress"][
        "value"
    ] == 0.4


async def test_a_duplicate_reading_is_not_a_second_check_in(
    tenant: Tenant, objective: dict[str, Any]
) -> None:
    kr = await driven_kr(tenant, objective)
    reading = {"value": 10, "observed_at": "2026-11-01T00:00:00Z"}
    await tenant.post("/v1/kpis/signups/readings", json=reading)
    await tenant.post("/v1/kpis/signups/readings", json=reading)
    items = (await tenant.get(f"/v1/key-results/{kr['id']}/check-ins")).json()["items"]
    assert len(items) == 1


async def test_kpi_reference_must_exist_in_the_organization(
    tenant: Tenant, other_tenant: Tenant, objective: dict[str, Any]
) -> None:
    foreign = await other_tenant.create("/v1/kpis", {"key": "theirs", "name": "Theirs"})
    body = {"title": "x", "type": "increase", "start": 0, "target": 1, "kpi_id": foreign["id"]}
    response = await tenant.post(f"/v1/objectives/{objective['id']}/key-results", json=body)
    assert response.status_code == 422
    kr = await driven_kr(tenant, objective)
    unlinked = await tenant.patch(f"/v1/key-results/{kr['id']}", json={"kpi_id": None})
    assert unlinked.status_code == 200 and unlinked.json()["kpi_id"] is None
    await tenant.post("/v1/kpis/signups/readings", json={"value": 50})
    assert (await tenant.get(f"/v1/key-results/{kr['id']}")).json()["current"] is None


async def test_linking_takes_the_kpi_latest_reading_at_once(
    tenant: Tenant, objective: dict[str, Any]
) -> None:
    await tenant.create("/v1/kpis", {"key": "nps", "name": "NPS"})
    for value, day in ((30, "01"), (60, "03"), (45, "02")):
        reading = {"value": value, "observed_at": f"2026-11-{day}T00:00:00Z", "source": "survey"}
        assert (await tenant.post("/v1/kpis/nps/readings", json=reading)).status_code == 201
    nps = (await tenant.get("/v1/kpis/nps")).json()
    body = {"title": "NPS 100", "type": "increase", "start": 0, "target": 100, "kpi_id": nps["id"]}
    kr = await tenant.create(f"/v1/objectives/{objective['id']}/key-results", body)
    assert (kr["current"], kr["progress"]["value"]) == (60.0, 0.6)
    check_ins = (await tenant.get(f"/v1/key-results/{kr['id']}/check-ins")).json()["items"]
    assert [(c["value"], c["source"], c["author"]) for c in check_ins] == [(60.0, "kpi", "survey")]
    shown = (await tenant.get(f"/v1/objectives/{objective['id']}")).json()
    assert shown["progress"]["value"] == 0.6

    # Relinked to another KPI: it follows that one's latest reading.
    other = await tenant.create("/v1/kpis", {"key": "csat", "name": "CSAT"})
    later = {"value": 80, "observed_at": "2026-11-04T00:00:00Z"}
    assert (await tenant.post("/v1/kpis/csat/readings", json=later)).status_code == 201
    relinked = await tenant.patch(
        f"/v1/key-results/{kr['id']}", json={"kpi_id": other["id"]}, headers={"If-Match": "*"}
    )
    assert relinked.status_code == 200, relinked.text
    assert relinked.json()["current"] == 80.0
    shown = (await tenant.get(f"/v1/objectives/{objective['id']}")).json()
    assert shown["progress"]["value"] == 0.8


async def test_a_driven_key_result_takes_no_check_ins_by_hand(
    tenant: Tenant, objective: dict[str, Any]
) -> None:
    kr = await driven_kr(tenant, objective)
    url = f"/v1/key-results/{kr['id']}/check-ins"
    refused = await tenant.post(url, json={"value": 99})
    assert refused.status_code == 409, refused.text
    assert "signups" in refused.text or kr["kpi_id"] in refused.text
    unlinked = await tenant.patch(
        f"/v1/key-results/{kr['id']}", json={"kpi_id": None}, headers={"If-Match": "*"}
    )
    assert unlinked.status_code == 200, unlinked.text
    assert (await tenant.post(url, json={"value": 99})).status_code == 201


async def test_kpi_is_not_a_source_a_client_may_claim(
    tenant: Tenant, objective: dict[str, Any]
) -> None:
    body = {"title": "Manual", "type": "increase", "start": 0, "target": 100}
    kr = await tenant.create(f"/v1/objectives/{objective['id']}/key-results", body)
    url = f"/v1/key-results/{kr['id']}/check-ins"
    forged = await tenant.post(url, json={"value": 5, "source": "kpi"})
    assert forged.status_code == 422, forged.text
    assert (await tenant.get(url)).json()["items"] == []
    mutation = """mutation($id: UUID!) {
      recordCheckIn(keyResultId: $id, input: {value: 5, source: KPI}) { __typename } }"""
    answer = await tenant.post("/graphql", json={"query": mutation, "variables": {"id": kr["id"]}})
    assert answer.json()["data"]["recordCheckIn"]["__typename"] == "ValidationError"
    assert (await tenant.get(url)).json()["items"] == []


async def test_relinked_to_a_kpi_whose_latest_is_older_it_follows_that_kpi(
    tenant: Tenant, objective: dict[str, Any]
) -> None:
    """``current`` follows the KPI it is linked to, even when the previous source (another
    KPI, a hand check-in) observed later."""
    newer = await tenant.create("/v1/kpis", {"key": "newer", "name": "Newer"})
    older = await tenant.create("/v1/kpis", {"key": "older", "name": "Older"})
    await tenant.post(
        "/v1/kpis/newer/readings", json={"value": 90, "observed_at": "2026-11-10T00:00:00Z"}
    )
    await tenant.post(
        "/v1/kpis/older/readings", json={"value": 80, "observed_at": "2026-11-04T00:00:00Z"}
    )
    body = {"title": "KR", "type": "increase", "start": 0, "target": 100, "kpi_id": newer["id"]}
    kr = await tenant.create(f"/v1/objectives/{objective['id']}/key-results", body)
    assert kr["current"] == 90.0
    url = f"/v1/key-results/{kr['id']}"
    relinked = await tenant.patch(url, json={"kpi_id": older["id"]}, headers={"If-Match": "*"})
    assert (relinked.json()["current"], relinked.json()["progress"]["value"]) == (80.0, 0.8)
    later = {"value": 85, "observed_at": "2026-11-05T00:00:00Z"}
    await tenant.post("/v1/kpis/older/readings", json=later)
    assert (await tenant.get(url)).json()["current"] == 85.0


async def test_a_driven_milestone_stays_editable_whatever_the_kpi_reads(
    tenant: Tenant, objective: dict[str, Any]
) -> None:
    kpi = await tenant.create("/v1/kpis", {"key": "launches", "name": "Launches"})
    body = {"title": "Ship", "type": "milestone", "kpi_id": kpi["id"]}
    kr = await tenant.create(f"/v1/objectives/{objective['id']}/key-results", body)
    await tenant.post("/v1/kpis/launches/readings", json={"value": 37})
    url = f"/v1/key-results/{kr['id']}"
    for change in ({"title": "Ship it"}, {"kpi_id": None}):
        response = await tenant.patch(url, json=change, headers={"If-Match": "*"})
        assert response.status_code == 200, response.text
