"""Edges of KPI input that once escaped validation as 500s or were silently altered: ISO 8601
durations past ``timedelta``'s range or a microsecond's precision, buckets, null labels and
annotations on a rule update, and GraphQL timestamps without an offset. Over HTTP, as
clients send them; the duration rules themselves are checked directly too."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from service.kpis.durations import format_duration, parse_bucket, parse_duration
from tests.conftest import Tenant
from tests.test_graphql import gql
from tests.test_graphql_kpis import CREATE_KPI, CREATE_RULE, UPDATE_KPI, UPDATE_RULE, make_kpi
from tests.test_graphql_mutations import mutate

RULES = "/v1/kpis/churn/alert-rules"
HUGE = [
    "P9999999999D",
    "P999999999W",
    "PT" + "9" * 400 + "S",  # once float('inf') seconds
    "PT" + "9" * 400 + ".5S",
    "PT99999999999999999999H",
    "P" + "9" * 5000 + "D",  # past int()'s digit limit
]
TOO_FINE = ["PT0.0000001S", "PT1.0000001S", "PT0.0000000000000000001S"]


# ---- durations, directly ----------------------------------------------------------------


@pytest.mark.parametrize("text", HUGE + TOO_FINE + ["P", "PT", "P1DT", "PT1.S", "P1Y", "-PT1S"])
def test_bad_durations_are_value_errors(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["1000000000d", "99999999999999999999w", "9" * 5000 + "s"])
def test_huge_buckets_are_value_errors(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_bucket(text)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("PT1.5S", "PT1.5S"),
        ("PT0.000001S", "PT0.000001S"),
        ("PT0.1S", "PT0.1S"),
        ("PT1.500000S", "PT1.5S"),
        ("PT1.5000000000S", "PT1.5S"),  # zeros past the microsecond lose nothing
        ("P1DT2H3M4.25S", "P1DT2H3M4.25S"),
        ("PT90M", "PT1H30M"),
        ("P2W", "P14D"),
        ("PT0S", "PT0S"),
        ("P999999999DT23H59M59.999999S", "P999999999DT23H59M59.999999S"),
    ],
)
def test_durations_round_trip_exactly(text: str, shown: str) -> None:
    parsed = parse_duration(text)
    assert format_duration(parsed) == shown
    assert parse_duration(format_duration(parsed)) == parsed


def test_a_maximum_is_enforced_with_its_own_message() -> None:
    assert parse_duration("P366D", maximum=timedelta(days=366)) == timedelta(days=366)
    with pytest.raises(ValueError, match="at most P366D"):
        parse_duration("P366DT0.000001S", maximum=timedelta(days=366))


# ---- alert rule durations over REST and GraphQL -----------------------------------------


async def test_rest_refuses_durations_out_of_range_with_422(tenant: Tenant) -> None:
    await make_kpi(tenant)
    for field in ("window", "pending_for", "no_data_after", "renotify_interval"):
        for text in [*HUGE, *TOO_FINE]:
            body = {"operator": "gt", "critical": 1, field: text}
            response = await tenant.post(RULES, json=body)
            assert response.status_code == 422, (field, text, response.text)
            problem = response.json()
            assert response.headers["content-type"].startswith("application/problem+json")
            assert "duration" in response.text, problem
    assert (await tenant.get(RULES)).json() == []


async def test_rest_patch_refuses_durations_out_of_range(tenant: Tenant) -> None:
    await make_kpi(tenant)
    rule = await tenant.create(RULES, {"operator": "gt", "critical": 1})
    for text in ["P9999999999D", "PT" + "9" * 400 + "S", "PT0.0000001S"]:
        response = await tenant.patch(f"{RULES}/{rule['id']}", json={"window": text})
        assert response.status_code == 422, (text, response.text)
    assert (await tenant.get(f"{RULES}/{rule['id']}")).json()["version"] == 1


async def test_graphql_refuses_durations_out_of_range(tenant: Tenant) -> None:
    await make_kpi(tenant)
    for text in [*HUGE, *TOO_FINE]:
        got = await mutate(
            tenant,
            CREATE_RULE,
            kpi="churn",
            input={"operator": "GT", "critical": 1, "window": text},
        )
        assert got["__typename"] == "ValidationError", (text, got)
        assert [f["field"] for f in got["fields"]] == ["window"]
    rule = await tenant.create(RULES, {"operator": "gt", "critical": 1})
    got = await mutate(
        tenant, UPDATE_RULE, kpi="churn", id=rule["id"], input={"pendingFor": "P9999999999D"}
    )
    assert got["__typename"] == "ValidationError", got
    assert [r["id"] for r in (await tenant.get(RULES)).json()] == [rule["id"]]


async def test_sub_second_durations_are_shown_as_stored(tenant: Tenant) -> None:
    await make_kpi(tenant)
    created = await tenant.create(
        RULES, {"operator": "gt", "critical": 1, "window": "PT1.5S", "pending_for": "PT0.000001S"}
    )
    assert (created["window"], created["pending_for"]) == ("PT1.5S", "PT0.000001S")
    got = (await tenant.get(f"{RULES}/{created['id']}")).json()
    assert (got["window"], got["pending_for"]) == ("PT1.5S", "PT0.000001S")
    query = '{ kpi(idOrKey: "churn") { alertRules { window pendingFor } } }'
    body = await gql(tenant, query)
    assert body["data"]["kpi"]["alertRules"] == [{"window": "PT1.5S", "pendingFor": "PT0.000001S"}]


# ---- buckets ----------------------------------------------------------------------------


async def test_huge_buckets_are_422_over_rest(tenant: Tenant) -> None:
    await make_kpi(tenant)
    for bucket in ["1000000000d", "99999999999999999w", "P9999999999D", "PT0.0000001S"]:
        response = await tenant.get("/v1/kpis/churn/readings", params={"bucket": bucket})
        assert response.status_code == 422, (bucket, response.text)
        assert response.json()["errors"][0]["loc"][-1] == "bucket"


async def test_graphql_buckets_are_validated_as_rest(tenant: Tenant) -> None:
    await make_kpi(tenant)
    query = 'query($b: String!) { kpi(idOrKey: "churn") { series(bucket: $b) { bucket } } }'
    for bucket in ["1000000000d", "P9999999999D", "0" * 19 + "1h", "PT" + "9" * 400 + "S"]:
        body = await gql(tenant, query, {"b": bucket})
        assert body["data"] is None or body["data"]["kpi"] is None, body
        [error] = body["errors"]
        assert error["extensions"]["code"] == "validation_failed", (bucket, error)
        rest = await tenant.get("/v1/kpis/churn/readings", params={"bucket": bucket})
        assert rest.status_code == 422, (bucket, rest.text)
    ok = await gql(tenant, query, {"b": "0" * 18 + "1h"})  # 20 characters, as REST allows
    assert ok["data"]["kpi"]["series"] == {"bucket": "0" * 18 + "1h"}, ok


# ---- null labels and annotations --------------------------------------------------------


@pytest.mark.parametrize("field", ["labels", "annotations"])
async def test_rest_patch_null_labels_is_422_and_changes_nothing(
    tenant: Tenant, field: str
) -> None:
    await make_kpi(tenant)
    rule = await tenant.create(RULES, {"operator": "gt", "critical": 1, field: {"team": "a"}})
    url = f"{RULES}/{rule['id']}"
    response = await tenant.patch(url, json={field: None})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"][-1] == field
    got = await tenant.get(url)
    assert got.status_code == 200 and got.json()[field] == {"team": "a"}
    assert got.json()["version"] == 1
    assert (await tenant.get(RULES)).status_code == 200
    emptied = await tenant.patch(url, json={field: {}})
    assert emptied.status_code == 200 and emptied.json()[field] == {}


@pytest.mark.parametrize(
    "field", ["labels", "annotations", "pendingFor", "keepFiringFor", "maxLateness", "onNoData"]
)
async def test_graphql_null_on_a_non_null_field_is_refused(tenant: Tenant, field: str) -> None:
    await make_kpi(tenant)
    rule = await tenant.create(RULES, {"operator": "gt", "critical": 1, "labels": {"team": "a"}})
    got = await mutate(tenant, UPDATE_RULE, kpi="churn", id=rule["id"], input={field: None})
    assert got["__typename"] == "ValidationError", got
    assert [f["field"] for f in got["fields"]] == [field]
    rules = await tenant.get(RULES)
    assert rules.status_code == 200, rules.text
    assert [(r["labels"], r["version"]) for r in rules.json()] == [({"team": "a"}, 1)]


@pytest.mark.parametrize("field", ["pending_for", "keep_firing_for", "max_lateness", "on_no_data"])
async def test_rest_null_on_a_non_null_field_is_a_clear_422(tenant: Tenant, field: str) -> None:
    await make_kpi(tenant)
    rule = await tenant.create(RULES, {"operator": "gt", "critical": 1})
    response = await tenant.patch(f"{RULES}/{rule['id']}", json={field: None})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["msg"] == f"`{field}` cannot be null."


async def test_nullable_durations_still_take_null(tenant: Tenant) -> None:
    await make_kpi(tenant)
    rule = await tenant.create(
        RULES,
        {"operator": "gt", "critical": 1, "no_data_after": "PT1H", "renotify_interval": "PT1H"},
    )
    body = {"no_data_after": None, "renotify_interval": None, "muted_until": None}
    response = await tenant.patch(f"{RULES}/{rule['id']}", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["no_data_after"] is None


# ---- GraphQL timestamps need an offset, as REST's --------------------------------------

RANGES: list[dict[str, Any]] = [
    {"from": "2026-11-01T00:30:00"},
    {"to": "2026-11-01T00:30:00"},
    {"from": "2026-11-01"},
    {"from": "2026-11-01T00:30:00Z", "to": "2026-11-01T02:00:00.5"},
]


FIELDS = {
    "readings": "readings(from: $from, to: $to) { edges { node { value } } }",
    "series": 'series(bucket: "1h", from: $from, to: $to) { bucket }',
}


@pytest.mark.parametrize("field", FIELDS)
async def test_graphql_refuses_timestamps_without_an_offset(tenant: Tenant, field: str) -> None:
    await make_kpi(tenant)
    query = f"""query($from: DateTime, $to: DateTime) {{
        kpi(idOrKey: "churn") {{ {FIELDS[field]} }} }}"""
    for variables in RANGES:
        body = await gql(tenant, query, variables)
        [error] = body["errors"]
        assert error["extensions"]["code"] == "validation_failed", (variables, error)
        assert "offset" in error["message"]
        rest = await tenant.get("/v1/kpis/churn/readings", params=variables)
        assert rest.status_code == 422, (variables, rest.text)
    aware = {"from": "2026-11-01T00:30:00+02:00", "to": "2026-11-02T00:00:00Z"}
    ok = await gql(tenant, query, aware)
    assert "errors" not in ok, ok


async def test_graphql_literal_timestamps_without_an_offset_are_refused(tenant: Tenant) -> None:
    await make_kpi(tenant)
    query = """{ kpi(idOrKey: "churn") {
        readings(from: "2026-11-01T00:30:00") { edges { node { value } } } } }"""
    body = await gql(tenant, query)
    assert body["errors"][0]["extensions"]["code"] == "validation_failed", body


async def test_graphql_muted_until_without_an_offset_is_refused(tenant: Tenant) -> None:
    await make_kpi(tenant)
    naive = {"operator": "GT", "critical": 1, "mutedUntil": "2026-11-01T00:30:00"}
    got = await mutate(tenant, CREATE_RULE, kpi="churn", input=naive)
    assert got["__typename"] == "ValidationError", got
    assert (await tenant.get(RULES)).json() == []


# ---- periods of at least a second ------------------------------------------------------

PERIODS = ["window", "no_data_after", "renotify_interval"]
TOO_SHORT = ["PT0S", "P0D", "PT0.5S", "PT0.999999S"]


@pytest.mark.parametrize("field", PERIODS)
async def test_rest_refuses_periods_under_a_second(tenant: Tenant, field: str) -> None:
    """A zero window holds no reading (every rule's series went no-data on its first one),
    a zero no-data timeout the same, a zero reminder interval re-notified on every ingest."""
    await make_kpi(tenant)
    for text in TOO_SHORT:
        response = await tenant.post(RULES, json={"operator": "gt", "critical": 1, field: text})
        assert response.status_code == 422, (text, response.text)
        assert response.json()["errors"][0]["loc"][-1] == field
        assert "at least PT1S" in response.json()["errors"][0]["msg"]
    rule = await tenant.create(RULES, {"operator": "gt", "critical": 1, field: "PT1S"})
    assert rule[field] == "PT1S"
    response = await tenant.patch(f"{RULES}/{rule['id']}", json={field: "PT0S"})
    assert response.status_code == 422, response.text
    assert (await tenant.get(f"{RULES}/{rule['id']}")).json()[field] == "PT1S"


@pytest.mark.parametrize("field", ["window", "noDataAfter", "renotifyInterval"])
async def test_graphql_refuses_periods_under_a_second(tenant: Tenant, field: str) -> None:
    await make_kpi(tenant)
    got = await mutate(
        tenant, CREATE_RULE, kpi="churn", input={"operator": "GT", "critical": 1, field: "PT0S"}
    )
    assert got["__typename"] == "ValidationError", got
    assert [f["field"] for f in got["fields"]] == [field]
    rule = await tenant.create(RULES, {"operator": "gt", "critical": 1})
    got = await mutate(tenant, UPDATE_RULE, kpi="churn", id=rule["id"], input={field: "PT0S"})
    assert got["__typename"] == "ValidationError", got
    assert [r["version"] for r in (await tenant.get(RULES)).json()] == [1]


async def test_zero_pending_and_keep_firing_still_mean_at_once(tenant: Tenant) -> None:
    await make_kpi(tenant)
    body = {"operator": "gt", "critical": 1, "pending_for": "PT0S", "keep_firing_for": "PT0S"}
    rule = await tenant.create(RULES, body)
    assert (rule["pending_for"], rule["keep_firing_for"]) == ("PT0S", "PT0S")


# ---- keys that are not ids -------------------------------------------------------------

UUID_KEYS = [
    "0123456789abcdef0123456789abcdef",
    "01234567-89ab-cdef-0123-456789abcdef",
    "0123-4567-89ab-cdef-0123-4567-89ab-cdef",  # uuid.UUID() drops every hyphen
]


async def test_rest_refuses_keys_that_are_uuids(tenant: Tenant) -> None:
    """Paths and readings name a KPI by id or key and read a UUID as an id: such a key was
    created (201) and then never found by it, or found another KPI whose id it was."""
    other = await tenant.create("/v1/kpis", {"key": "other", "name": "Other"})
    for key in [*UUID_KEYS, other["id"]]:
        response = await tenant.post("/v1/kpis", json={"key": key, "name": "X"})
        assert response.status_code == 422, (key, response.text)
        [error] = response.json()["errors"]
        assert error["loc"][-1] == "key" and "UUID" in error["msg"], error
        patched = await tenant.patch("/v1/kpis/other", json={"key": key})
        assert patched.status_code == 422, (key, patched.text)
    assert [k["key"] for k in (await tenant.get("/v1/kpis")).json()["items"]] == ["other"]
    # Near misses are keys as any other.
    for key in ["0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdefa"]:
        assert (await tenant.post("/v1/kpis", json={"key": key, "name": "X"})).status_code == 201
        assert (await tenant.get(f"/v1/kpis/{key}")).json()["key"] == key


async def test_graphql_refuses_keys_that_are_uuids(tenant: Tenant) -> None:
    await make_kpi(tenant)
    got = await mutate(tenant, CREATE_KPI, input={"key": UUID_KEYS[0], "name": "X"})
    assert got["__typename"] == "ValidationError", got
    assert [f["field"] for f in got["fields"]] == ["key"]
    got = await mutate(tenant, UPDATE_KPI, ref="churn", input={"key": UUID_KEYS[1]})
    assert got["__typename"] == "ValidationError", got
    assert (await tenant.get("/v1/kpis/churn")).status_code == 200
