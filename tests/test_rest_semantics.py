"""REST semantics across domains: a downsampled series is whole or refused, creates carry
`Location` and `ETag`, a PATCH's null on a required field is a 422, a self-link is a 422."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from service.kpis.service import MAX_BUCKETS, bucket_span
from tests.conftest import Tenant
from tests.test_auth import assert_problem
from tests.test_graphql import gql

Json = dict[str, Any]
READINGS = "/v1/kpis/mrr/readings"
T0 = datetime(2024, 1, 1, tzinfo=UTC)  # 10,000 hours later is in the past too


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


async def make_kpi(tenant: Tenant) -> Json:
    return await tenant.create("/v1/kpis", {"key": "mrr", "name": "MRR", "target": 10})


async def store(tenant: Tenant, moments: list[datetime]) -> None:
    for start in range(0, len(moments), 10_000):
        chunk = moments[start : start + 10_000]
        readings = [{"kpi": "mrr", "value": 1, "observed_at": iso(m)} for m in chunk]
        response = await tenant.post("/v1/readings", json={"readings": readings})
        assert response.json()["created"] == len(chunk), response.text


def refused_for_width(response: Any) -> Json:
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["loc"] == ["bucket"]
    assert "narrow the range" in problem["detail"] and "widen `bucket`" in problem["detail"]
    return problem


# ---- 1. downsampling: every bucket or a 422 ---------------------------------------------


def test_bucket_span_counts_the_epoch_aligned_buckets_touched() -> None:
    minute = timedelta(minutes=1)
    assert bucket_span(T0, T0, minute) == 1
    assert bucket_span(T0, T0 + minute - timedelta(microseconds=1), minute) == 1
    assert bucket_span(T0 + timedelta(seconds=30), T0 + minute, minute) == 2
    assert bucket_span(T0, T0 - minute, minute) == 0


async def test_more_buckets_with_data_than_the_maximum_is_refused_not_cut(tenant: Tenant) -> None:
    await make_kpi(tenant)
    await store(tenant, [T0 + timedelta(seconds=i) for i in range(MAX_BUCKETS + 1)])
    problem = refused_for_width(await tenant.get(READINGS, params={"bucket": "1s"}))
    assert "10,001 buckets of 1s" in problem["detail"]
    whole = await tenant.get(
        READINGS, params={"bucket": "1s", "to": iso(T0 + timedelta(seconds=MAX_BUCKETS))}
    )
    assert whole.status_code == 200, whole.text
    items = whole.json()["items"]
    assert len(items) == MAX_BUCKETS and items[-1]["bucket_start"] == "2024-01-01T02:46:39Z"


async def test_a_closed_range_is_judged_by_its_width_before_any_data(tenant: Tenant) -> None:
    await make_kpi(tenant)
    await store(tenant, [T0])
    end = T0 + timedelta(minutes=MAX_BUCKETS)
    widest = await tenant.get(READINGS, params={"bucket": "1m", "from": iso(T0), "to": iso(end)})
    assert widest.status_code == 200, widest.text
    assert [i["samples"] for i in widest.json()["items"]] == [1]
    over = {"bucket": "1m", "from": iso(T0), "to": iso(end + timedelta(seconds=1))}
    assert "10,001 buckets" in refused_for_width(await tenant.get(READINGS, params=over))["detail"]
    # Not aligned to the grid: the same width touches one bucket more.
    shifted = {
        "bucket": "1m",
        "from": iso(T0 + timedelta(seconds=30)),
        "to": iso(end + timedelta(seconds=30)),
    }
    refused_for_width(await tenant.get(READINGS, params=shifted))


async def test_an_open_end_is_the_first_or_last_reading(tenant: Tenant) -> None:
    await make_kpi(tenant)
    late = T0 + timedelta(hours=MAX_BUCKETS)
    await store(tenant, [T0, late])
    refused_for_width(await tenant.get(READINGS, params={"bucket": "1h"}))
    refused_for_width(await tenant.get(READINGS, params={"bucket": "1h", "from": iso(T0)}))
    before = {"bucket": "1h", "to": iso(late)}  # the last reading is then T0
    assert len((await tenant.get(READINGS, params=before)).json()["items"]) == 1
    after = {"bucket": "1h", "from": iso(T0 + timedelta(hours=1))}
    assert len((await tenant.get(READINGS, params=after)).json()["items"]) == 1
    empty = {"bucket": "1s", "from": iso(late + timedelta(hours=1))}
    assert (await tenant.get(READINGS, params=empty)).json()["items"] == []
    assert len((await tenant.get(READINGS, params={"bucket": "2h"})).json()["items"]) == 2


async def test_graphql_series_refuses_the_same_ranges(tenant: Tenant) -> None:
    await make_kpi(tenant)
    await store(tenant, [T0, T0 + timedelta(hours=MAX_BUCKETS)])
    query = (
        'query($b: String!) { kpi(idOrKey: "mrr") { series(bucket: $b) { points { samples } } } }'
    )
    body = await gql(tenant, query, {"b": "1h"})
    [error] = body["errors"]
    assert error["extensions"]["code"] == "validation_failed", error
    assert "widen `bucket`" in error["message"]
    ok = await gql(tenant, query, {"b": "2h"})
    assert len(ok["data"]["kpi"]["series"]["points"]) == 2, ok


@pytest.mark.parametrize("param", [{"cursor": "abc"}, {"limit": "5"}])
async def test_paging_is_refused_with_a_bucket(tenant: Tenant, param: dict[str, str]) -> None:
    await make_kpi(tenant)
    await store(tenant, [T0, T0 + timedelta(hours=1)])
    problem = assert_problem(await tenant.get(READINGS, params={"bucket": "1h", **param}), 422)
    assert problem["errors"][0]["loc"] == ["query", *param]
    raw = await tenant.get(READINGS, params={"limit": "1"})  # raw readings still page
    assert len(raw.json()["items"]) == 1 and raw.json()["next_cursor"]


# ---- 2. creates carry Location and ETag -------------------------------------------------


async def assert_current(tenant: Tenant, created: Any) -> None:
    """The created representation is the one GET serves: its tag makes GET a 304."""
    assert created.status_code == 201, created.text
    tag = created.headers["etag"]
    got = await tenant.get(created.headers["location"])
    assert got.status_code == 200 and got.json() == created.json()
    assert got.headers["etag"] == tag
    cached = await tenant.get(created.headers["location"], headers={"If-None-Match": tag})
    assert cached.status_code == 304


async def test_create_alert_rule_has_location_and_etag(tenant: Tenant) -> None:
    kpi = await make_kpi(tenant)
    created = await tenant.post("/v1/kpis/mrr/alert-rules", json={"operator": "lt", "critical": 5})
    rule = created.json()
    assert created.headers["location"] == f"/v1/kpis/{kpi['id']}/alert-rules/{rule['id']}"
    await assert_current(tenant, created)
    path = created.headers["location"]
    edited = await tenant.patch(
        path, json={"name": "low"}, headers={"If-Match": created.headers["etag"]}
    )
    assert edited.status_code == 200, edited.text


async def test_create_key_result_and_promote_have_etags(tenant: Tenant, objective: Json) -> None:
    created = await tenant.post(
        f"/v1/objectives/{objective['id']}/key-results",
        json={"title": "Signups", "type": "increase", "start": 0, "target": 10},
    )
    await assert_current(tenant, created)
    kr = created.json()
    await tenant.create(f"/v1/key-results/{kr['id']}/check-ins", {"value": 4})
    promoted = await tenant.post(f"/v1/key-results/{kr['id']}/promote-to-kpi", json={"key": "su"})
    await assert_current(tenant, promoted)


# ---- 3. a PATCH's null on a required field is a 422 -------------------------------------


@pytest.mark.parametrize("name", ["url", "event_types", "max_in_flight"])
async def test_webhook_endpoint_required_fields_refuse_null(tenant: Tenant, name: str) -> None:
    body = {"url": "http://127.0.0.1:9/hook", "event_types": ["kpi.*"], "max_in_flight": 2}
    created = await tenant.create("/v1/webhook-endpoints", body)
    path = f"/v1/webhook-endpoints/{created['id']}"
    problem = assert_problem(await tenant.patch(path, json={name: None, "description": "x"}), 422)
    assert problem["errors"][0]["loc"] == [name]
    assert f"`{name}` cannot be null" in problem["detail"]
    unchanged = (await tenant.get(path)).json()
    assert unchanged == {k: v for k, v in created.items() if k != "secret"}


async def test_webhook_endpoint_nullable_fields_take_null(tenant: Tenant) -> None:
    body = {"url": "http://127.0.0.1:9/hook", "description": "d", "throttle_rate": 5}
    created = await tenant.create("/v1/webhook-endpoints", body)
    path = f"/v1/webhook-endpoints/{created['id']}"
    cleared = await tenant.patch(path, json={"description": None, "throttle_rate": None})
    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["description"], cleared.json()["throttle_rate"]) == (None, None)
    everything = await tenant.patch(path, json={"event_types": []})
    assert everything.status_code == 200 and everything.json()["event_types"] == []


async def test_team_member_ids_refuse_null(tenant: Tenant) -> None:
    ada = await tenant.create("/v1/people", {"user_name": "ada", "display_name": "Ada"})
    team = await tenant.create("/v1/teams", {"name": "Platform", "member_ids": [ada["id"]]})
    path = f"/v1/teams/{team['id']}"
    problem = assert_problem(await tenant.patch(path, json={"member_ids": None}), 422)
    assert problem["errors"][0]["loc"] == ["member_ids"]
    assert (await tenant.get(path)).json()["member_ids"] == [ada["id"]]
    emptied = await tenant.patch(path, json={"member_ids": []})
    assert emptied.status_code == 200 and emptied.json()["member_ids"] == []


# ---- 4. aligning an objective to itself is invalid input --------------------------------


async def test_self_alignment_is_422_whatever_the_graph(tenant: Tenant, cycle: Json) -> None:
    a = await tenant.create("/v1/objectives", {"title": "A", "cycle_id": cycle["id"]})
    url = f"/v1/objectives/{a['id']}/parents"
    problem = assert_problem(await tenant.post(url, json={"parent_id": a["id"]}), 422)
    assert problem["errors"][0]["loc"] == ["parent_id"]
    assert "cannot align to itself" in problem["detail"]
    assert (await tenant.get(url)).json() == []
