"""KPIs over REST: CRUD by id or key, health, ingestion results, downsampling, scopes."""

from __future__ import annotations

from typing import Any

from tests.conftest import Tenant


async def make_kpi(tenant: Tenant, key: str = "mrr", **extra: Any) -> dict[str, Any]:
    body = {"key": key, "name": key.upper(), "unit": "EUR", **extra}
    return await tenant.create("/v1/kpis", body)


async def test_kpi_is_addressable_by_id_and_key(tenant: Tenant) -> None:
    kpi = await make_kpi(tenant)
    by_key = (await tenant.get("/v1/kpis/mrr")).json()
    by_id = (await tenant.get(f"/v1/kpis/{kpi['id']}")).json()
    assert by_key == by_id
    assert by_key["health"] == "unknown" and by_key["latest"] is None


async def test_duplicate_key_is_a_conflict_and_bad_slug_is_refused(tenant: Tenant) -> None:
    await make_kpi(tenant)
    assert (await tenant.post("/v1/kpis", json={"key": "mrr", "name": "x"})).status_code == 409
    assert (
        await tenant.post("/v1/kpis", json={"key": "Not A Slug", "name": "x"})
    ).status_code == 422


async def test_health_follows_latest_value_against_target(tenant: Tenant) -> None:
    await make_kpi(tenant, target=100)
    await tenant.post(
        "/v1/kpis/mrr/readings", json={"value": 90, "observed_at": "2026-11-01T00:00:00Z"}
    )
    assert (await tenant.get("/v1/kpis/mrr")).json()["health"] == "unhealthy"
    await tenant.post(
        "/v1/kpis/mrr/readings", json={"value": 120, "observed_at": "2026-11-02T00:00:00Z"}
    )
    kpi = (await tenant.get("/v1/kpis/mrr")).json()
    assert kpi["health"] == "healthy"
    assert kpi["latest"] == {"value": 120.0, "observed_at": "2026-11-02T00:00:00Z"}
    # A late reading is stored but does not rewind `latest`.
    await tenant.post(
        "/v1/kpis/mrr/readings", json={"value": 1, "observed_at": "2026-10-01T00:00:00Z"}
    )
    assert (await tenant.get("/v1/kpis/mrr")).json()["latest"]["value"] == 120.0


async def test_lower_is_better_health(tenant: Tenant) -> None:
    await make_kpi(tenant, key="churn", direction="lower_is_better", target=2.5)
    await tenant.post("/v1/kpis/churn/readings", json={"value": 2.0})
    assert (await tenant.get("/v1/kpis/churn")).json()["health"] == "healthy"


async def test_single_reading_created_then_duplicate(tenant: Tenant) -> None:
    await make_kpi(tenant)
    reading = {"value": 5, "observed_at": "2026-11-01T00:00:00Z", "source": "stripe"}
    first = await tenant.post("/v1/kpis/mrr/readings", json=reading)
    assert first.status_code == 201 and first.json()["created"] == 1
    again = await tenant.post("/v1/kpis/mrr/readings", json=reading)
    assert again.status_code == 200
    assert again.json()["results"][0]["status"] == "duplicate"
    listed = (await tenant.get("/v1/kpis/mrr/readings")).json()["items"]
    assert len(listed) == 1 and listed[0]["source"] == "stripe"


async def test_single_invalid_reading_is_a_problem(tenant: Tenant) -> None:
    await make_kpi(tenant)
    response = await tenant.post(
        "/v1/kpis/mrr/readings",
        content=b'{"value": NaN}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (await tenant.get("/v1/kpis/mrr/readings")).json()["items"] == []


async def test_batch_reports_every_item_and_stores_the_valid_ones(tenant: Tenant) -> None:
    await make_kpi(tenant)
    kpi = await make_kpi(tenant, key="nps")
    batch = [
        {"kpi": "mrr", "value": 1, "observed_at": "2026-11-01T00:00:00Z"},
        {"kpi": kpi["id"], "value": 2, "observed_at": "2026-11-01T00:00:00Z"},
        {"kpi": "mrr", "value": "lots"},
        {"kpi": "nope", "value": 3},
        {"kpi": "mrr", "value": 1, "observed_at": "2026-11-01T00:00:00Z"},
        {"kpi": "mrr", "value": 4, "observed_at": "2999-01-01T00:00:00Z"},
        {"value": 5},
    ]
    response = await tenant.post("/v1/readings", json={"readings": batch})
    assert response.status_code == 200, response.text
    body = response.json()
    statuses = [r["status"] for r in body["results"]]
    assert statuses == [
        "created",
        "created",
        "rejected",
        "rejected",
        "duplicate",
        "rejected",
        "rejected",
    ]
    assert (body["created"], body["duplicates"], body["rejected"]) == (2, 1, 4)
    assert body["results"][3]["problem"]["status"] == 404
    assert len((await tenant.get("/v1/kpis/mrr/readings")).json()["items"]) == 1


async def test_atomic_batch_stores_nothing_when_one_item_is_bad(tenant: Tenant) -> None:
    await make_kpi(tenant)
    batch = [{"kpi": "mrr", "value": 1}, {"kpi": "mrr", "value": None}]
    response = await tenant.post("/v1/readings", json={"readings": batch, "atomic": True})
    assert response.status_code == 422
    assert response.json()["errors"][0]["index"] == 1
    assert (await tenant.get("/v1/kpis/mrr/readings")).json()["items"] == []


async def test_batch_size_is_bounded(tenant: Tenant) -> None:
    await make_kpi(tenant)
    readings = [{"kpi": "mrr", "value": i} for i in range(10_001)]
    response = await tenant.post("/v1/readings", json={"readings": readings})
    assert response.status_code == 422


async def test_ten_thousand_readings_land_in_one_request(tenant: Tenant) -> None:
    await make_kpi(tenant)
    readings = [
        {"kpi": "mrr", "value": i, "observed_at": f"2026-11-01T00:00:{0:02d}Z", "source": f"s{i}"}
        for i in range(10_000)
    ]
    response = await tenant.post("/v1/readings", json={"readings": readings})
    assert response.status_code == 200
    assert response.json()["created"] == 10_000
    series = (
        await tenant.get("/v1/kpis/mrr/readings", params={"bucket": "1d", "agg": "count"})
    ).json()
    assert series["items"] == [
        {"bucket_start": "2026-11-01T00:00:00Z", "value": 10000.0, "samples": 10000}
    ]


async def test_downsampling_and_range(tenant: Tenant) -> None:
    await make_kpi(tenant)
    for hour, value in [(0, 1), (0, 3), (1, 10), (2, 7)]:
        await tenant.post(
            "/v1/kpis/mrr/readings",
            json={"value": value, "observed_at": f"2026-11-01T{hour:02d}:{value:02d}:00Z"},
        )
    hourly = await tenant.get("/v1/kpis/mrr/readings", params={"bucket": "1h", "agg": "avg"})
    assert [i["value"] for i in hourly.json()["items"]] == [2.0, 10.0, 7.0]
    last = await tenant.get("/v1/kpis/mrr/readings", params={"bucket": "1d", "agg": "last"})
    assert last.json()["items"][0]["value"] == 7.0
    ranged = await tenant.get(
        "/v1/kpis/mrr/readings",
        params={"from": "2026-11-01T01:00:00Z", "to": "2026-11-01T02:00:00Z"},
    )
    assert [i["value"] for i in ranged.json()["items"]] == [10.0]
    bad = await tenant.get("/v1/kpis/mrr/readings", params={"bucket": "1 fortnight"})
    assert bad.status_code == 422


async def test_readings_paginate(tenant: Tenant) -> None:
    await make_kpi(tenant)
    readings = [
        {"kpi": "mrr", "value": i, "observed_at": f"2026-11-01T00:{i:02d}:00Z"} for i in range(7)
    ]
    await tenant.post("/v1/readings", json={"readings": readings})
    seen, cursor = [], None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await tenant.get("/v1/kpis/mrr/readings", params=params)).json()
        seen += [i["value"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [float(i) for i in range(7)]


async def test_ingest_key_may_post_readings_and_nothing_else(tenant: Tenant) -> None:
    await make_kpi(tenant)
    ingest = await tenant.key_with("ingest")
    assert (await ingest.post("/v1/kpis/mrr/readings", json={"value": 1})).status_code == 201
    assert (await ingest.get("/v1/kpis/mrr")).status_code == 403
    assert (await ingest.post("/v1/kpis", json={"key": "x", "name": "x"})).status_code == 403
    reader = await tenant.key_with("read")
    assert (await reader.post("/v1/kpis/mrr/readings", json={"value": 1})).status_code == 403


async def test_ingest_key_limited_to_some_kpis(tenant: Tenant) -> None:
    allowed = await make_kpi(tenant)
    await make_kpi(tenant, key="secret")
    created = await tenant.create(
        "/v1/api-keys", {"name": "limited", "scopes": ["ingest"], "kpi_ids": [allowed["id"]]}
    )
    limited = Tenant(tenant.organization_id, created["key"], tenant.http)
    assert (await limited.post("/v1/kpis/mrr/readings", json={"value": 1})).status_code == 201
    assert (await limited.post("/v1/kpis/secret/readings", json={"value": 1})).status_code == 403
    batch = [{"kpi": "mrr", "value": 2}, {"kpi": "secret", "value": 2}]
    body = (await limited.post("/v1/readings", json={"readings": batch})).json()
    assert [r["status"] for r in body["results"]] == ["created", "rejected"]
    assert body["results"][1]["problem"]["status"] == 403


async def test_kpis_are_invisible_across_organizations(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    kpi = await make_kpi(tenant)
    for ref in ("mrr", kpi["id"]):
        assert (await other_tenant.get(f"/v1/kpis/{ref}")).status_code == 404
        assert (
            await other_tenant.post(f"/v1/kpis/{ref}/readings", json={"value": 1})
        ).status_code == 404
        assert (await other_tenant.get(f"/v1/kpis/{ref}/readings")).status_code == 404
    body = (
        await other_tenant.post("/v1/readings", json={"readings": [{"kpi": "mrr", "value": 1}]})
    ).json()
    assert body["results"][0]["status"] == "rejected"
    assert (await other_tenant.get("/v1/kpis")).json()["items"] == []
    # The other organization may use the same key for its own KPI.
    await make_kpi(other_tenant)


async def test_repeated_idempotency_key_replays_the_ingest_answer(tenant: Tenant) -> None:
    await make_kpi(tenant)
    headers = {"Idempotency-Key": "batch-1"}
    body = {"readings": [{"kpi": "mrr", "value": 1}]}
    first = await tenant.post("/v1/readings", json=body, headers=headers)
    second = await tenant.post("/v1/readings", json=body, headers=headers)
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert len((await tenant.get("/v1/kpis/mrr/readings")).json()["items"]) == 1


async def test_concurrent_batches_over_the_same_kpis_all_land(tenant: Tenant) -> None:
    import asyncio

    keys = [f"k{i}" for i in range(6)]
    for key in keys:
        await tenant.create("/v1/kpis", {"key": key, "name": key, "target": 10})

    def batch(order: list[str], second: int) -> dict[str, Any]:
        readings = [
            {"kpi": k, "value": i, "observed_at": f"2026-11-01T00:00:{second:02d}Z"}
            for i, k in enumerate(order)
        ]
        return {"readings": readings}

    bodies = [batch(keys if n % 2 else keys[::-1], n) for n in range(8)]
    responses = await asyncio.gather(*[tenant.post("/v1/readings", json=b) for b in bodies])
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    assert sum(r.json()["created"] for r in responses) == 48
    series = await tenant.get("/v1/kpis/k0/readings", params={"bucket": "1d", "agg": "count"})
    assert series.json()["items"][0]["samples"] == 8
