"""ETags cover the whole representation: computed fields that move without the row's
version (rolled-up progress, a KPI's latest reading) move the tag, so ``If-None-Match``
never serves them stale; ``If-Match`` still compares the version only, so those moves do
not turn a PATCH into 412. REST and GraphQL give the same tag for the same state."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from service.models.base import utcnow
from tests.conftest import Tenant
from tests.test_graphql import data

Json = dict[str, Any]

# A cycle that has ended: pace no longer moves with the clock, so an unchanged objective
# keeps its tag from one read to the next (in a running cycle `pace.expected` moves, and
# the tag with it).
PAST = {"start_date": "2025-01-01", "end_date": "2025-03-31"}


def version_part(etag: str) -> str:
    """``<id12>-<version>`` of ``"<id12>-<version>.<digest>"``."""
    assert etag.startswith('"') and etag.endswith('"'), etag
    version, dot, digest = etag[1:-1].partition(".")
    assert dot and len(digest) == 10, etag
    return version


async def cached_get(tenant: Tenant, url: str, etag: str) -> httpx.Response:
    return await tenant.get(url, headers={"If-None-Match": etag})


async def rolled_up_parent(tenant: Tenant) -> tuple[Json, Json]:
    """A parent whose progress rolls up from a child, and the child's key result."""
    cycle = await tenant.create("/v1/cycles", {"name": "Past", **PAST})
    body = {"cycle_id": cycle["id"], "rollup": "children"}
    parent = await tenant.create("/v1/objectives", {"title": "Parent", **body})
    child = await tenant.create(
        "/v1/objectives", {"title": "Child", "cycle_id": cycle["id"], "parent_id": parent["id"]}
    )
    kr_body = {"title": "KR", "type": "increase", "start": 0, "target": 10}
    kr = await tenant.create(f"/v1/objectives/{child['id']}/key-results", kr_body)
    return parent, kr


async def test_rolled_up_progress_moves_the_objective_tag(tenant: Tenant) -> None:
    parent, kr = await rolled_up_parent(tenant)
    url = f"/v1/objectives/{parent['id']}"
    first = await tenant.get(url)
    etag = first.headers["etag"]
    assert first.json()["progress"]["value"] == 0
    unchanged = await cached_get(tenant, url, etag)
    assert unchanged.status_code == 304 and unchanged.headers["etag"] == etag

    await tenant.create(f"/v1/key-results/{kr['id']}/check-ins", {"value": 4})

    fresh = await cached_get(tenant, url, etag)
    assert fresh.status_code == 200, "a cached copy with the old progress is served"
    assert fresh.json()["progress"]["value"] == pytest.approx(0.4)
    new_etag = fresh.headers["etag"]
    assert new_etag != etag
    assert version_part(new_etag) == version_part(etag)  # the parent's own row is unchanged
    again = await cached_get(tenant, url, new_etag)
    assert again.status_code == 304 and again.headers["etag"] == new_etag


async def test_if_match_ignores_computed_fields_but_not_versions(tenant: Tenant) -> None:
    parent, kr = await rolled_up_parent(tenant)
    url = f"/v1/objectives/{parent['id']}"
    read_before_check_in = (await tenant.get(url)).headers["etag"]
    await tenant.create(f"/v1/key-results/{kr['id']}/check-ins", {"value": 4})

    edited = await tenant.patch(
        url, json={"title": "Renamed"}, headers={"If-Match": read_before_check_in}
    )
    assert edited.status_code == 200, edited.text
    assert version_part(edited.headers["etag"]) != version_part(read_before_check_in)

    lost = await tenant.patch(
        url, json={"title": "Lost"}, headers={"If-Match": read_before_check_in}
    )
    assert lost.status_code == 412, lost.text
    assert (await tenant.get(url)).json()["title"] == "Renamed"


async def test_a_new_reading_moves_the_kpi_tag_not_its_version(tenant: Tenant) -> None:
    kpi = await tenant.create("/v1/kpis", {"key": "nps", "name": "NPS", "target": 40})
    url = f"/v1/kpis/{kpi['id']}"
    etag = (await tenant.get(url)).headers["etag"]
    assert (await cached_get(tenant, url, etag)).status_code == 304

    reading = {"value": 42.0, "observed_at": "2026-11-01T00:00:00Z"}
    stored = await tenant.post("/v1/kpis/nps/readings", json=reading)
    assert stored.status_code == 201, stored.text

    fresh = await cached_get(tenant, url, etag)
    assert fresh.status_code == 200, "a cached copy without the new reading is served"
    assert fresh.json()["latest"] == {"value": 42.0, "observed_at": "2026-11-01T00:00:00Z"}
    new_etag = fresh.headers["etag"]
    assert new_etag != etag and version_part(new_etag) == version_part(etag)
    assert (await cached_get(tenant, url, new_etag)).status_code == 304

    edited = await tenant.patch(url, json={"name": "Net promoter"}, headers={"If-Match": etag})
    assert edited.status_code == 200, edited.text
    stale = await tenant.patch(url, json={"name": "Lost"}, headers={"If-Match": new_etag})
    assert stale.status_code == 412, stale.text


async def test_tags_without_a_digest_still_match(tenant: Tenant) -> None:
    kpi = await tenant.create("/v1/kpis", {"key": "nps", "name": "NPS"})
    url = f"/v1/kpis/{kpi['id']}"
    etag = (await tenant.get(url)).headers["etag"]
    before_digests = f'"{version_part(etag)}"'
    edited = await tenant.patch(url, json={"name": "A"}, headers={"If-Match": before_digests})
    assert edited.status_code == 200, edited.text
    for refused in (before_digests, "unquoted", '""', f'"{version_part(etag)}x"'):
        response = await tenant.patch(url, json={"name": "C"}, headers={"If-Match": refused})
        assert response.status_code == 412, (refused, response.text)


async def test_if_match_compares_strongly_and_if_none_match_weakly(tenant: Tenant) -> None:
    """RFC 9110 §13.1.1: a weak tag never matches `If-Match`, even the current one (412,
    nothing changed); `If-None-Match` matches it to its strong twin (304)."""
    kpi = await tenant.create("/v1/kpis", {"key": "nps", "name": "NPS"})
    url = f"/v1/kpis/{kpi['id']}"
    etag = (await tenant.get(url)).headers["etag"]
    for weak in (f"W/{etag}", f'W/"{version_part(etag)}"', f'"other", W/{etag}'):
        response = await tenant.patch(url, json={"name": "Lost"}, headers={"If-Match": weak})
        assert response.status_code == 412, (weak, response.text)
    assert (await tenant.get(url)).headers["etag"] == etag
    assert (await tenant.get(url)).json()["name"] == "NPS"

    cached = await cached_get(tenant, url, f"W/{etag}")
    assert cached.status_code == 304 and cached.headers["etag"] == etag
    strong = await tenant.patch(url, json={"name": "A"}, headers={"If-Match": f'W/"x", {etag}'})
    assert strong.status_code == 200, strong.text


OBJECTIVE_AND_KR = """query($o: UUID!, $k: UUID!) {
    objective(id: $o) { etag } keyResult(id: $k) { etag } }"""
KPI_AND_RULE = """query($ref: String!) { kpi(idOrKey: $ref) { etag alertRules { id etag } } }"""


async def test_graphql_etag_is_the_rest_etag(tenant: Tenant) -> None:
    parent, kr = await rolled_up_parent(tenant)
    await tenant.create(f"/v1/key-results/{kr['id']}/check-ins", {"value": 4})
    got = await data(tenant, OBJECTIVE_AND_KR, {"o": parent["id"], "k": kr["id"]})
    objective = await tenant.get(f"/v1/objectives/{parent['id']}")
    assert got["objective"]["etag"] == objective.headers["etag"]
    key_result = await tenant.get(f"/v1/key-results/{kr['id']}")
    assert got["keyResult"]["etag"] == key_result.headers["etag"]

    kpi = await tenant.create("/v1/kpis", {"key": "nps", "name": "NPS", "target": 40})
    await tenant.post("/v1/kpis/nps/readings", json={"value": 42.0})
    got = (await data(tenant, KPI_AND_RULE, {"ref": "nps"}))["kpi"]
    assert got["etag"] == (await tenant.get(f"/v1/kpis/{kpi['id']}")).headers["etag"]
    [rule] = got["alertRules"]
    rest_rule = await tenant.get(f"/v1/kpis/nps/alert-rules/{rule['id']}")
    assert rule["etag"] == rest_rule.headers["etag"]


async def test_a_check_in_is_not_an_edit_of_its_key_result_or_objective(tenant: Tenant) -> None:
    cycle = await tenant.create("/v1/cycles", {"name": "Past", **PAST})
    objective = await tenant.create("/v1/objectives", {"title": "O", "cycle_id": cycle["id"]})
    kr_body = {"title": "KR", "type": "increase", "start": 0, "target": 10}
    kr = await tenant.create(f"/v1/objectives/{objective['id']}/key-results", kr_body)
    urls = [f"/v1/objectives/{objective['id']}", f"/v1/key-results/{kr['id']}"]
    tags = [(await tenant.get(url)).headers["etag"] for url in urls]

    await tenant.create(f"/v1/key-results/{kr['id']}/check-ins", {"value": 5})

    for url, etag in zip(urls, tags, strict=True):
        fresh = await cached_get(tenant, url, etag)
        assert fresh.status_code == 200, url
        assert fresh.json()["progress"]["value"] == pytest.approx(0.5)
        assert version_part(fresh.headers["etag"]) == version_part(etag)
        edited = await tenant.patch(url, json={"title": "Renamed"}, headers={"If-Match": etag})
        assert edited.status_code == 200, edited.text
        stale = await tenant.patch(url, json={"title": "Lost"}, headers={"If-Match": etag})
        assert stale.status_code == 412, stale.text


async def test_a_kpi_driven_key_result_follows_readings_without_a_new_version(
    tenant: Tenant,
) -> None:
    cycle = await tenant.create("/v1/cycles", {"name": "Past", **PAST})
    objective = await tenant.create("/v1/objectives", {"title": "O", "cycle_id": cycle["id"]})
    kpi = await tenant.create("/v1/kpis", {"key": "nps", "name": "NPS"})
    kr_body = {"title": "KR", "type": "increase", "start": 0, "target": 10, "kpi_id": kpi["id"]}
    kr = await tenant.create(f"/v1/objectives/{objective['id']}/key-results", kr_body)
    url = f"/v1/key-results/{kr['id']}"
    etag = (await tenant.get(url)).headers["etag"]

    stored = await tenant.post("/v1/kpis/nps/readings", json={"value": 7.0})
    assert stored.status_code == 201, stored.text

    fresh = await cached_get(tenant, url, etag)
    assert fresh.status_code == 200 and fresh.json()["current"] == 7.0
    assert version_part(fresh.headers["etag"]) == version_part(etag)
    edited = await tenant.patch(url, json={"target": 20}, headers={"If-Match": etag})
    assert edited.status_code == 200, edited.text
    assert edited.json()["progress"]["value"] == pytest.approx(0.35)


async def test_webhook_endpoint_tags_agree_and_leave_the_secret_out(tenant: Tenant) -> None:
    """The 201 of a create carries the tag of what GET serves (the secret is only in the
    create's answer), and GraphQL's tag is the same."""
    created = await tenant.post(
        "/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/hook", "event_types": []}
    )
    assert created.status_code == 201, created.text
    url = f"/v1/webhook-endpoints/{created.json()['id']}"
    read = await tenant.get(url)
    assert read.headers["etag"] == created.headers["etag"]
    got = await data(tenant, "{ webhookEndpoints { edges { node { etag } } } }")
    [edge] = got["webhookEndpoints"]["edges"]
    assert edge["node"]["etag"] == read.headers["etag"]
    assert (await cached_get(tenant, url, read.headers["etag"])).status_code == 304


async def test_an_objective_in_a_running_cycle_can_answer_304(tenant: Tenant) -> None:
    """Pace moves minute by minute, not on every read, so a client polling a running
    cycle's objective gets 304s between changes."""
    today = utcnow().date()
    running = {
        "start_date": str(today - timedelta(days=30)),
        "end_date": str(today + timedelta(days=60)),
    }
    cycle = await tenant.create("/v1/cycles", {"name": "Now", **running})
    objective = await tenant.create("/v1/objectives", {"title": "O", "cycle_id": cycle["id"]})
    url = f"/v1/objectives/{objective['id']}"
    for _ in range(3):  # a read may straddle a minute boundary; the next one will not
        first = await tenant.get(url)
        assert first.json()["pace"]["expected"] > 0
        again = await cached_get(tenant, url, first.headers["etag"])
        if again.status_code == 304:
            break
    assert again.status_code == 304
