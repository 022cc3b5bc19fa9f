"""Rate limiting per API key: token buckets, 429 problems, RateLimit-* fields."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from service.api.ratelimit import Policy, RateLimiter, TokenBuckets
from service.config import Settings
from tests.conftest import Tenant

BURST = 5
INGEST_BURST = 3


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # A refill so slow that no token comes back during a test: counts are exact.
    return settings.model_copy(
        update={
            "rate_limit_enabled": True,
            "rate_limit_per_second": 0.001,
            "rate_limit_burst": BURST,
            "rate_limit_ingest_per_second": 0.001,
            "rate_limit_ingest_burst": INGEST_BURST,
        }
    )


def assert_rate_limited(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == 429
    assert body["code"] == "rate_limited"
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["ratelimit-remaining"] == "0"
    return body


# ---- the bucket, driven by explicit instants ----------------------------------------------


def test_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    buckets, key, policy = TokenBuckets(), uuid.uuid4(), Policy("default", rate=2, burst=4)
    taken = [buckets.take(key, policy, now=100.0) for _ in range(5)]
    assert [d.allowed for d in taken] == [True, True, True, True, False]
    assert [d.remaining for d in taken[:4]] == [3, 2, 1, 0]
    refused = taken[4]
    assert refused.retry_after == 1  # one token at 2/s: half a second, rounded up
    assert refused.reset == 2  # four tokens at 2/s
    assert buckets.take(key, policy, now=100.4).allowed is False
    assert buckets.take(key, policy, now=100.5).allowed is True  # 0.8 + 0.2 tokens
    assert buckets.take(key, policy, now=1000.0).remaining == 3  # full again, never above
    assert buckets.take(uuid.uuid4(), policy, now=100.5).allowed is True  # keys are apart


def test_refused_requests_do_not_spend_tokens() -> None:
    buckets, key, policy = TokenBuckets(), uuid.uuid4(), Policy("default", rate=1, burst=1)
    assert buckets.take(key, policy, now=0.0).allowed
    for step in range(1, 10):
        assert not buckets.take(key, policy, now=step * 0.1).allowed
    assert buckets.take(key, policy, now=1.0).allowed  # hammering did not push it back


def test_clock_going_backwards_adds_no_tokens() -> None:
    buckets, key, policy = TokenBuckets(), uuid.uuid4(), Policy("default", rate=1, burst=1)
    assert buckets.take(key, policy, now=10.0).allowed
    assert not buckets.take(key, policy, now=5.0).allowed


def test_idle_full_buckets_are_swept() -> None:
    buckets, policy = TokenBuckets(), Policy("default", rate=1, burst=2)
    slow = Policy("ingest", rate=0.001, burst=2)
    buckets.SWEEP_ABOVE = 10
    for n in range(9):
        buckets.take(uuid.uuid4(), policy, now=float(n) / 100)
    still_empty = uuid.uuid4()
    buckets.take(still_empty, slow, now=0.0)
    buckets.take(uuid.uuid4(), policy, now=100.0)  # the fast ones are full by now
    assert len(buckets) == 2  # the slow one is not full: dropping it would refill it
    assert buckets.take(still_empty, slow, now=100.0).remaining == 0


def test_workers_share_the_limit() -> None:
    settings = Settings(
        workers=4,
        rate_limit_per_second=100,
        rate_limit_burst=200,
        rate_limit_ingest_per_second=40,
        rate_limit_ingest_burst=2,
    )
    limiter = RateLimiter.from_settings(settings)
    assert (limiter.default.rate, limiter.default.burst) == (25, 50)
    assert (limiter.ingest.rate, limiter.ingest.burst) == (10, 1)  # at least one token


def test_unsafe_limits_are_refused() -> None:
    for bad in ({"rate_limit_per_second": 0}, {"rate_limit_burst": 0.5}, {"workers": 0}):
        with pytest.raises(ValueError):
            Settings(**bad)  # type: ignore[arg-type]


# ---- over HTTP ----------------------------------------------------------------------------


async def test_burst_then_429_with_headers(tenant: Tenant) -> None:
    for n in range(BURST):
        response = await tenant.get("/v1/objectives")
        assert response.status_code == 200, response.text
        assert response.headers["ratelimit-limit"] == str(BURST)
        assert response.headers["ratelimit-remaining"] == str(BURST - n - 1)
        assert int(response.headers["ratelimit-reset"]) > 0
        assert response.headers["ratelimit-policy"] == f"{BURST};w=5000"
    body = assert_rate_limited(await tenant.get("/v1/objectives"))
    assert "rate limit" in body["detail"]
    assert body["instance"] == "/v1/objectives"


async def test_refused_writes_store_nothing(tenant: Tenant, cycle: dict[str, Any]) -> None:
    reader = await tenant.key_with("read")
    # The cycle fixture and the new key spent two tokens.
    for n in range(BURST - 2):
        body = {"title": f"O{n}", "cycle_id": cycle["id"]}
        assert (await tenant.post("/v1/objectives", json=body)).status_code == 201
    assert_rate_limited(
        await tenant.post("/v1/objectives", json={"title": "late", "cycle_id": cycle["id"]})
    )
    assert_rate_limited(await tenant.get("/v1/objectives"))
    titles = [o["title"] for o in (await reader.get("/v1/objectives")).json()["items"]]
    assert sorted(titles) == [f"O{n}" for n in range(BURST - 2)]


async def test_keys_have_their_own_buckets(tenant: Tenant) -> None:
    reader = await tenant.key_with("read")  # one token of the admin key
    for _ in range(BURST - 1):
        assert (await tenant.get("/v1/objectives")).status_code == 200
    assert_rate_limited(await tenant.get("/v1/objectives"))
    response = await reader.get("/v1/objectives")
    assert response.status_code == 200
    assert response.headers["ratelimit-remaining"] == str(BURST - 1)


async def test_graphql_and_scim_are_keyed(tenant: Tenant) -> None:
    scim = await tenant.key_with("scim")
    for _ in range(BURST):
        response = await scim.get("/scim/v2/Users")
        assert response.status_code == 200, response.text
        assert "ratelimit-remaining" in response.headers
    refused = await scim.get("/scim/v2/Users")
    assert refused.status_code == 429
    assert refused.json()["status"] == "429"  # the SCIM error schema under /scim/v2
    assert int(refused.headers["retry-after"]) >= 1

    query = {"query": "{ objectives { items { id } } }"}
    for _ in range(BURST - 2):  # the key above took one, the create one more
        assert (await tenant.post("/graphql", json=query)).status_code == 200
    assert (await tenant.post("/graphql", json=query)).status_code == 200
    assert_rate_limited(await tenant.post("/graphql", json=query))


async def test_readings_draw_from_their_own_bucket(tenant: Tenant) -> None:
    kpi = await tenant.create("/v1/kpis", {"key": "signups", "name": "Signups"})
    for _ in range(BURST - 1):
        assert (await tenant.get("/v1/kpis")).status_code == 200
    assert_rate_limited(await tenant.get("/v1/kpis"))
    for n in range(INGEST_BURST):
        response = await tenant.post(f"/v1/kpis/{kpi['id']}/readings", json={"value": n})
        assert response.status_code == 201, response.text
        assert response.headers["ratelimit-limit"] == str(INGEST_BURST)
    assert_rate_limited(await tenant.post("/v1/readings", json={"readings": []}))


async def test_unkeyed_requests_are_not_limited(client: httpx.AsyncClient, tenant: Tenant) -> None:
    for _ in range(BURST * 2):
        for path in ("/healthz", "/readyz", "/metrics"):
            response = await client.get(path)
            assert response.status_code == 200
            assert "ratelimit-limit" not in response.headers
        response = await client.get("/v1/objectives")  # no key: 401, not counted
        assert response.status_code == 401
        assert "ratelimit-limit" not in response.headers
    assert (await tenant.get("/v1/objectives")).headers["ratelimit-remaining"] == str(BURST - 1)
