"""Numbers and times at the edges of what the service accepts: refused with a 422 (per
item in a batch) and nothing stored, or accepted and then readable; never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Tenant
from tests.test_graphql import gql
from tests.test_graphql_mutations import RECORD_CHECK_IN, mutate

Json = dict[str, Any]

# An offset carries these past Python's first and last instants.
BEFORE_YEAR_1 = "0001-01-01T00:00:00+01:00"
AFTER_YEAR_9999 = "9999-12-31T23:30:00-01:00"


def assert_422(response: Any) -> Json:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: Json = response.json()
    return body


async def make_kpi(tenant: Tenant, key: str = "signups", **extra: Any) -> Json:
    return await tenant.create("/v1/kpis", {"key": key, "name": key, **extra})


async def readings_of(tenant: Tenant, kpi: str) -> list[Json]:
    response = await tenant.get(f"/v1/kpis/{kpi}/readings")
    assert response.status_code == 200, response.text
    items: list[Json] = response.json()["items"]
    return items


@pytest.mark.parametrize(
    "observed_at", [BEFORE_YEAR_1, AFTER_YEAR_9999, "1899-12-31T23:59:59Z", "0001-01-01T00:00:00Z"]
)
async def test_a_batch_refuses_a_time_out_of_range_per_item(
    tenant: Tenant, observed_at: str
) -> None:
    await make_kpi(tenant)
    batch = [
        {"kpi": "signups", "value": 1, "observed_at": "2026-01-01T00:00:00Z"},
        {"kpi": "signups", "value": 2, "observed_at": observed_at},
    ]
    response = await tenant.post("/v1/readings", json={"readings": batch})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "rejected"]
    assert results[1]["problem"]["status"] == 422
    assert "1900-01-01" in str(results[1]["problem"])
    assert [r["value"] for r in await readings_of(tenant, "signups")] == [1]


@pytest.mark.parametrize("value", [1e19, -1e19, 1.7976931348623157e308])
async def test_a_reading_too_large_to_sum_is_refused_per_item(tenant: Tenant, value: float) -> None:
    await make_kpi(tenant)
    batch = [{"kpi": "signups", "value": 1e18}, {"kpi": "signups", "value": value}]
    response = await tenant.post("/v1/readings", json={"readings": batch})
    assert [r["status"] for r in response.json()["results"]] == ["created", "rejected"]
    single = await tenant.post("/v1/kpis/signups/readings", json={"value": value})
    assert_422(single)
    assert [r["value"] for r in await readings_of(tenant, "signups")] == [1e18]


async def test_largest_readings_sum_and_evaluate(tenant: Tenant) -> None:
    """Readings at the limit, aggregated by a window rule and downsampled by sum."""
    await make_kpi(tenant)
    rule = {"operator": "gt", "critical": 1e18, "aggregation": "sum", "window": "PT1H"}
    await tenant.create("/v1/kpis/signups/alert-rules", rule)
    batch = [{"kpi": "signups", "value": 1e18, "source": str(n)} for n in range(300)]
    response = await tenant.post("/v1/readings", json={"readings": batch})
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 300
    summed = await tenant.get("/v1/kpis/signups/readings?bucket=1d&agg=sum")
    assert summed.status_code == 200, summed.text
    assert summed.json()["items"][0]["value"] == pytest.approx(3e20)
    alerts = await tenant.get("/v1/alerts")
    assert alerts.status_code == 200, alerts.text
    assert [a["state"] for a in alerts.json()["items"]] == ["firing"]


@pytest.mark.parametrize("bound", [BEFORE_YEAR_1, AFTER_YEAR_9999])
async def test_query_times_out_of_range_are_422(tenant: Tenant, bound: str) -> None:
    await make_kpi(tenant)
    assert_422(await tenant.get("/v1/kpis/signups/readings", params={"from": bound}))
    assert_422(await tenant.get("/v1/events", params={"since": bound}))


async def test_a_mute_past_the_range_is_422(tenant: Tenant) -> None:
    await make_kpi(tenant)
    rule = {"operator": "gt", "critical": 1, "muted_until": AFTER_YEAR_9999}
    assert_422(await tenant.post("/v1/kpis/signups/alert-rules", json=rule))


async def test_a_check_in_out_of_range_changes_nothing(tenant: Tenant, objective: Json) -> None:
    kr = await tenant.create(
        f"/v1/objectives/{objective['id']}/key-results",
        {"title": "Grow", "type": "increase", "start": 0, "target": 10},
    )
    url = f"/v1/key-results/{kr['id']}/check-ins"
    assert_422(await tenant.post(url, json={"value": 1e19}))
    assert_422(await tenant.post(url, json={"value": 1, "observed_at": BEFORE_YEAR_1}))
    assert (await tenant.get(url)).json()["items"] == []


async def test_raw_progress_of_a_target_a_hair_from_its_start_is_limited(
    tenant: Tenant, objective: Json
) -> None:
    """(1e18 - 0) / 1e-300 is infinite: no JSON number, no sum in a roll-up."""
    kr = await tenant.create(
        f"/v1/objectives/{objective['id']}/key-results",
        {"title": "Tiny", "type": "increase", "start": 0, "target": 1e-300},
    )
    await tenant.create(f"/v1/key-results/{kr['id']}/check-ins", {"value": 1e18})
    response = await tenant.get(f"/v1/key-results/{kr['id']}")
    assert response.status_code == 200, response.text
    progress = response.json()["progress"]
    assert (progress["value"], progress["raw"]) == (1.0, 1e9)
    assert progress["formula"].endswith("limited to -1e9..1e9")
    parent = await tenant.get(f"/v1/objectives/{objective['id']}")
    assert parent.status_code == 200, parent.text
    assert parent.json()["progress"]["raw"] == 1e9
    tree = await tenant.get(f"/v1/objectives/{objective['id']}/tree")
    assert tree.json()["nodes"][0]["progress"]["raw"] == 1e9


async def test_a_cycle_ending_on_the_last_accepted_day_is_readable(tenant: Tenant) -> None:
    cycle = await tenant.create(
        "/v1/cycles", {"name": "Open", "start_date": "2026-01-01", "end_date": "9998-12-31"}
    )
    objective = await tenant.create("/v1/objectives", {"title": "Last", "cycle_id": cycle["id"]})
    response = await tenant.get(f"/v1/objectives/{objective['id']}")
    assert response.status_code == 200, response.text
    assert response.json()["pace"]["expected"] == pytest.approx(0, abs=1e-3)


async def test_a_cycle_past_the_range_is_422_on_create_and_patch(tenant: Tenant) -> None:
    body = {"name": "Forever", "start_date": "2026-01-01", "end_date": "9999-12-31"}
    assert_422(await tenant.post("/v1/cycles", json=body))
    assert_422(await tenant.post("/v1/cycles", json=body | {"start_date": "1899-12-31"}))
    cycle = await tenant.create("/v1/cycles", body | {"end_date": "2026-12-31"})
    url = f"/v1/cycles/{cycle['id']}"
    patched = await tenant.patch(url, json={"end_date": "9999-12-31"}, headers={"If-Match": "*"})
    assert_422(patched)
    assert (await tenant.get(url)).json()["end_date"] == "2026-12-31"


async def test_graphql_check_in_out_of_range_is_a_validation_error(
    tenant: Tenant, objective: Json
) -> None:
    kr = await tenant.create(
        f"/v1/objectives/{objective['id']}/key-results",
        {"title": "Grow", "type": "increase", "start": 0, "target": 10},
    )
    for check_in in ({"value": 1e19}, {"value": 1, "observedAt": BEFORE_YEAR_1}):
        got = await mutate(tenant, RECORD_CHECK_IN, k=kr["id"], input=check_in)
        assert got["__typename"] == "ValidationError", got
    assert (await tenant.get(f"/v1/key-results/{kr['id']}/check-ins")).json()["items"] == []


@pytest.mark.parametrize("moment", [BEFORE_YEAR_1, AFTER_YEAR_9999, "2026-11-01T00:30:00"])
async def test_graphql_time_arguments_out_of_range_or_naive_are_refused(
    tenant: Tenant, moment: str
) -> None:
    await make_kpi(tenant)
    queries = {
        "readings": '{ kpi(idOrKey: "signups") { readings(from: $t) { edges { cursor } } } }',
        "events": "{ events(since: $t) { edges { node { id } } } }",
    }
    for name, query in queries.items():
        document = "query($t: DateTime) " + query
        body = await gql(tenant, document, {"t": moment})
        [error] = body["errors"]
        assert error.get("extensions", {}).get("code") == "validation_failed", (name, error)
