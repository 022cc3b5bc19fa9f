"""Where GraphQL must say what REST says: KPI-driven key results, event cursors, UTC `Z`
timestamps, and the filters and fields REST has."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import strawberry
from fastapi import FastAPI
from pydantic import TypeAdapter
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from service.common.schemas import UtcDateTime
from service.events.outbox import record_event
from service.graphql.execution import PlainFieldExecutionContext
from service.graphql.schema import SCALAR_OVERRIDES
from service.models.base import utcnow
from tests.conftest import Tenant, emit
from tests.test_graphql import data, gql
from tests.test_graphql_limits import count_statements
from tests.test_graphql_mutations import RESULT, mutate

Json = dict[str, Any]

KR_FIELDS = "id kpiId kpi { id key } etag"
CREATE_KR = f"""mutation($o: UUID!, $input: CreateKeyResultInput!) {{
    createKeyResult(objectiveId: $o, input: $input) {{ {RESULT}
    ... on CreateKeyResultPayload {{ keyResult {{ {KR_FIELDS} }} }} }} }}"""
UPDATE_KR = f"""mutation($id: UUID!, $input: UpdateKeyResultInput!) {{
    updateKeyResult(id: $id, input: $input) {{ {RESULT}
    ... on UpdateKeyResultPayload {{ keyResult {{ {KR_FIELDS} }} }} }} }}"""
INCREASE = {"title": "Signups", "type": "INCREASE", "start": 0, "target": 100}


async def kpi(tenant: Tenant, key: str) -> Json:
    return await tenant.create("/v1/kpis", {"key": key, "name": key.title()})


# ---- 1. KPI-driven key results --------------------------------------------------------


async def test_key_results_take_and_show_kpi_id_like_rest(tenant: Tenant, objective: Json) -> None:
    signups = await kpi(tenant, "signups")
    created = await mutate(
        tenant, CREATE_KR, o=objective["id"], input=INCREASE | {"kpiId": signups["id"]}
    )
    assert created["__typename"] == "CreateKeyResultPayload", created
    kr = created["keyResult"]
    assert kr["kpiId"] == signups["id"]
    assert kr["kpi"] == {"id": signups["id"], "key": "signups"}
    rest = await tenant.get(f"/v1/key-results/{kr['id']}")
    assert rest.json()["kpi_id"] == signups["id"]
    assert rest.headers["ETag"] == kr["etag"]

    # The KPI drives it, as when REST linked it.
    await tenant.post("/v1/kpis/signups/readings", json={"value": 40})
    got = await data(tenant, "query($id: UUID!) { keyResult(id: $id) { current } }", kr)
    assert got["keyResult"]["current"] == 40.0

    # Omitted leaves it; null unlinks; another id relinks.
    kept = await mutate(tenant, UPDATE_KR, id=kr["id"], input={"title": "More signups"})
    assert kept["keyResult"]["kpiId"] == signups["id"]
    unlinked = await mutate(tenant, UPDATE_KR, id=kr["id"], input={"kpiId": None})
    assert unlinked["keyResult"]["kpiId"] is None and unlinked["keyResult"]["kpi"] is None
    assert (await tenant.get(f"/v1/key-results/{kr['id']}")).json()["kpi_id"] is None
    trials = await kpi(tenant, "trials")
    relinked = await mutate(tenant, UPDATE_KR, id=kr["id"], input={"kpiId": trials["id"]})
    assert relinked["keyResult"]["kpi"] == {"id": trials["id"], "key": "trials"}
    assert (await tenant.get(f"/v1/key-results/{kr['id']}")).json()["kpi_id"] == trials["id"]


async def test_another_organizations_kpi_is_refused_like_rest(
    tenant: Tenant, other_tenant: Tenant, objective: Json
) -> None:
    foreign = await kpi(other_tenant, "theirs")
    body = {"title": "x", "type": "increase", "start": 0, "target": 1, "kpi_id": foreign["id"]}
    rest = await tenant.post(f"/v1/objectives/{objective['id']}/key-results", json=body)
    assert rest.status_code == 422
    refused = await mutate(
        tenant, CREATE_KR, o=objective["id"], input=INCREASE | {"kpiId": foreign["id"]}
    )
    assert refused["__typename"] == "ValidationError"
    assert refused["message"] == rest.json()["detail"]
    assert refused["fields"] == [{"field": "kpiId", "message": rest.json()["detail"]}]
    listed = await tenant.get(f"/v1/objectives/{objective['id']}/key-results")
    assert listed.json() == []  # nothing was created

    kr = await tenant.create(
        f"/v1/objectives/{objective['id']}/key-results", body | {"kpi_id": None}
    )
    refused = await mutate(tenant, UPDATE_KR, id=kr["id"], input={"kpiId": foreign["id"]})
    assert refused["__typename"] == "ValidationError"
    patched = await tenant.patch(f"/v1/key-results/{kr['id']}", json={"kpi_id": foreign["id"]})
    assert patched.status_code == 422 and refused["message"] == patched.json()["detail"]
    assert (await tenant.get(f"/v1/key-results/{kr['id']}")).json()["kpi_id"] is None


async def test_key_result_kpis_load_in_one_batch(
    app: FastAPI, tenant: Tenant, objective: Json
) -> None:
    query = """query($id: UUID!) { objective(id: $id) {
        keyResults { kpiId kpi { key owner { id } } } } }"""
    await data(tenant, query, objective)  # the key's last-used time moves now
    counts: dict[int, int] = {}
    made = 0
    for total in (1, 4):
        for n in range(made, total):
            driver = await kpi(tenant, f"k{n}")
            body = {"title": f"kr{n}", "type": "increase", "start": 0, "target": 1}
            await tenant.create(
                f"/v1/objectives/{objective['id']}/key-results", body | {"kpi_id": driver["id"]}
            )
        made = total
        with count_statements(app) as statements:
            got = await data(tenant, query, objective)
        key_results = got["objective"]["keyResults"]
        assert [kr["kpi"]["key"] for kr in key_results] == [f"k{n}" for n in range(total)]
        counts[total] = len(statements)
    assert counts[1] == counts[4], counts


# ---- 2. event cursors -----------------------------------------------------------------

EVENTS = """query($first: Int!, $after: String) { events(first: $first, after: $after) {
    edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }"""


async def test_walking_events_by_end_cursor_returns_each_once(app: FastAPI, tenant: Tenant) -> None:
    ids = await emit(app, tenant.organization_id, "kpi.breached", count=5)
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = (await data(tenant, EVENTS, {"first": 2, "after": after}))["events"]
        pages += 1
        seen += [e["node"]["id"] for e in page["edges"]]
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ids and pages == 3

    # REST's `next_cursor` is the same position.
    rest = (await tenant.get("/v1/events", params={"limit": 2})).json()
    first = (await data(tenant, EVENTS, {"first": 2}))["events"]
    assert first["pageInfo"]["endCursor"] == rest["next_cursor"]


async def test_each_edge_cursor_reads_on_after_its_event(app: FastAPI, tenant: Tenant) -> None:
    ids = await emit(app, tenant.organization_id, "objective.created", count=4)
    edges = (await data(tenant, EVENTS, {"first": 10}))["events"]["edges"]
    assert [e["node"]["id"] for e in edges] == ids
    for n, edge in enumerate(edges):
        rest = (await data(tenant, EVENTS, {"first": 10, "after": edge["cursor"]}))["events"]
        assert [e["node"]["id"] for e in rest["edges"]] == ids[n + 1 :]
        assert rest["pageInfo"]["hasNextPage"] is False
    empty = (await data(tenant, EVENTS, {"first": 10, "after": edges[-1]["cursor"]}))["events"]
    assert empty == {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}


# ---- 3. DateTime in UTC with `Z` ------------------------------------------------------


async def test_datetimes_are_written_like_rest(tenant: Tenant) -> None:
    created = await kpi(tenant, "churn")
    reading = {"value": 2.0, "observed_at": "2026-11-01T02:30:00.250000+02:00"}
    assert (await tenant.post("/v1/kpis/churn/readings", json=reading)).status_code in (200, 201)
    query = """{ kpi(idOrKey: "churn") { createdAt updatedAt latest { observedAt }
        readings { edges { node { observedAt } } } } }"""
    got = (await data(tenant, query))["kpi"]
    rest = (await tenant.get("/v1/kpis/churn")).json()
    rest_readings = (await tenant.get("/v1/kpis/churn/readings")).json()["items"]
    assert got["createdAt"].endswith("Z") and got["createdAt"] == created["created_at"]
    assert got["updatedAt"] == rest["updated_at"]
    observed = got["readings"]["edges"][0]["node"]["observedAt"]
    assert observed == "2026-11-01T00:30:00.250000Z" == rest_readings[0]["observed_at"]
    assert got["latest"]["observedAt"] == rest["latest"]["observed_at"] == observed


AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
NAIVE = datetime(2026, 1, 2, 3, 4, 5, 600)


@strawberry.type
class Moments:
    aware: datetime
    offset: datetime
    naive: datetime
    many: list[datetime]
    none: datetime | None


@strawberry.type
class MomentQuery:
    @strawberry.field
    def moments(self) -> Moments:
        return Moments(
            aware=AT,
            offset=AT.astimezone(timezone(timedelta(hours=-5))),
            naive=NAIVE,
            many=[AT, AT.replace(microsecond=7)],
            none=None,
        )


def test_both_execution_paths_write_datetimes_as_rest_does() -> None:
    """The compiled plan and graphql-core's own path serialize alike; naive values as REST
    does too (its `UtcDateTime`), never as a string without `Z`."""
    document = "{ moments { aware offset naive many none } }"
    results = []
    for context_class in (StrawberryGraphQLCoreExecutionContext, PlainFieldExecutionContext):
        schema = strawberry.Schema(
            query=MomentQuery,
            scalar_overrides=SCALAR_OVERRIDES,
            execution_context_class=context_class,
        )
        result = schema.execute_sync(document)
        assert result.errors is None, result.errors
        results.append(result.data)
    assert results[0] == results[1] and results[0] is not None
    got = results[0]["moments"]
    rest = TypeAdapter(UtcDateTime)
    assert got["aware"] == got["offset"] == "2026-01-02T03:04:05Z"
    assert got["naive"] == rest.dump_python(NAIVE) and got["naive"].endswith("Z")
    assert got["many"] == ["2026-01-02T03:04:05Z", "2026-01-02T03:04:05.000007Z"]
    assert got["none"] is None


# ---- 4. filters and fields REST has ---------------------------------------------------


async def test_objectives_filter_orphaned_like_rest(tenant: Tenant, cycle: Json) -> None:
    ada = await tenant.create("/v1/people", {"user_name": "ada", "display_name": "Ada"})
    owned = await tenant.create(
        "/v1/objectives", {"title": "Ship", "cycle_id": cycle["id"], "owner_id": ada["id"]}
    )
    other = await tenant.create("/v1/objectives", {"title": "Other", "cycle_id": cycle["id"]})
    assert (await tenant.delete(f"/v1/people/{ada['id']}")).status_code == 204
    query = """query($o: Boolean) { objectives(orphaned: $o) { edges { node { id } } } }"""
    for orphaned, expected in ((True, [owned]), (False, [other]), (None, [owned, other])):
        got = (await data(tenant, query, {"o": orphaned}))["objectives"]["edges"]
        params = {} if orphaned is None else {"orphaned": str(orphaned).lower()}
        rest = (await tenant.get("/v1/objectives", params=params)).json()["items"]
        assert [e["node"]["id"] for e in got] == [o["id"] for o in rest]
        assert [o["id"] for o in rest] == [o["id"] for o in expected]


async def test_webhook_endpoints_filter_disabled_like_rest(tenant: Tenant) -> None:
    url = "http://127.0.0.1:9/hook"
    on = await tenant.create("/v1/webhook-endpoints", {"url": url})
    off = await tenant.create("/v1/webhook-endpoints", {"url": url, "disabled": True})
    query = """query($d: Boolean) { webhookEndpoints(disabled: $d) {
        edges { node { id disabled } } } }"""
    for disabled, expected in ((True, [off]), (False, [on]), (None, [on, off])):
        got = (await data(tenant, query, {"d": disabled}))["webhookEndpoints"]["edges"]
        params = {} if disabled is None else {"disabled": str(disabled).lower()}
        rest = (await tenant.get("/v1/webhook-endpoints", params=params)).json()["items"]
        assert [e["node"]["id"] for e in got] == [e["id"] for e in rest]
        assert [e["id"] for e in rest] == [e["id"] for e in expected]


async def test_events_show_suppressed_reason_like_rest(app: FastAPI, tenant: Tenant) -> None:
    async with app.state.sessionmaker() as session:
        kept = await record_event(session, tenant.organization_id, "kpi.breached", utcnow(), {})
        muted = await record_event(
            session,
            tenant.organization_id,
            "kpi.breached",
            utcnow(),
            {},
            suppressed_reason="silence",
        )
        await session.commit()
    query = "{ events { edges { node { id suppressedReason } } } }"
    got = (await data(tenant, query))["events"]["edges"]
    assert [e["node"] for e in got] == [
        {"id": kept.id, "suppressedReason": None},
        {"id": muted.id, "suppressedReason": "silence"},
    ]
    for event in (kept, muted):
        rest = (await tenant.get(f"/v1/events/{event.id}")).json()
        assert rest["suppressed_reason"] == event.suppressed_reason


async def test_rollover_payload_names_the_target_cycle_like_rest(
    tenant: Tenant, cycle: Json
) -> None:
    await tenant.create("/v1/objectives", {"title": "Carry", "cycle_id": cycle["id"]})
    body = {"name": "2027-Q1", "start_date": "2027-01-01", "end_date": "2027-03-31"}
    target = await tenant.create("/v1/cycles", body)
    rollover = f"""mutation($c: UUID!, $input: RolloverCycleInput!) {{
        rolloverCycle(cycleId: $c, input: $input) {{ {RESULT}
        ... on RolloverCyclePayload {{ dryRun targetCycleId links }} }} }}"""
    got = await mutate(
        tenant, rollover, c=cycle["id"], input={"targetCycleId": target["id"], "dryRun": True}
    )
    assert got["__typename"] == "RolloverCyclePayload", got
    rest = await tenant.post(
        f"/v1/cycles/{cycle['id']}/rollover",
        json={"target_cycle_id": target["id"], "dry_run": True},
    )
    assert got["targetCycleId"] == rest.json()["target_cycle_id"] == target["id"]


async def test_events_type_is_checked_like_rest(tenant: Tenant) -> None:
    for pattern in ("KPI%", "kpi.", "x" * 101):
        rest = await tenant.get("/v1/events", params={"type": pattern})
        assert rest.status_code == 422, (pattern, rest.text)
        body = await gql(
            tenant, "query($t: String) { events(type: $t) { edges { cursor } } }", {"t": pattern}
        )
        assert body["errors"][0]["extensions"]["code"] == "validation_failed", (pattern, body)
    ok = await gql(tenant, '{ events(type: "kpi.*") { edges { cursor } } }')
    assert "errors" not in ok, ok
