"""KPIs over GraphQL: queries by id and key, readings and series, alert rules and alerts,
each mutation's payload and typed errors, scopes, tenancy, and statement counts."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import FastAPI

from service.auth.keys import Principal, Scope
from service.kpis import service as kpi_service
from service.kpis.schemas import KpiCreate
from service.models import Person, Team
from tests.conftest import Tenant
from tests.test_graphql import data, gql
from tests.test_graphql_limits import SessionUse, count_statements
from tests.test_graphql_mutations import RESULT, mutate

KPI_FIELDS = """id key name description unit direction target health etag
    latest { value observedAt } owner { userName } team { name }"""
RULE_FIELDS = """id kpiId name enabled isDefault operator warning critical warningRecovery
    criticalRecovery aggregation window minSamples pendingFor keepFiringFor noDataAfter
    onNoData maxLateness renotifyInterval labels annotations version etag"""

CREATE_KPI = f"""mutation($input: CreateKpiInput!) {{ createKpi(input: $input) {{ {RESULT}
    ... on CreateKpiPayload {{ kpi {{ {KPI_FIELDS} alertRules {{ isDefault operator critical }}
    }} }} }} }}"""
UPDATE_KPI = f"""mutation($ref: String!, $input: UpdateKpiInput!, $ifMatch: String) {{
    updateKpi(idOrKey: $ref, input: $input, ifMatch: $ifMatch) {{ {RESULT}
    ... on UpdateKpiPayload {{ kpi {{ {KPI_FIELDS} alertRules {{ critical }} }} }} }} }}"""
DELETE_KPI = f"""mutation($ref: String!) {{ deleteKpi(idOrKey: $ref) {{ {RESULT}
    ... on DeleteKpiPayload {{ id }} }} }}"""
INGEST = f"""mutation($readings: [ReadingInput!]!, $atomic: Boolean! = false) {{
    ingestReadings(readings: $readings, atomic: $atomic) {{ {RESULT}
    ... on IngestReadingsPayload {{ created duplicates rejected
      results {{ index status kpiId observedAt problem {{ status detail errors }} }} }}
    ... on IngestRefusedError {{ results {{ index status problem {{ status detail }} }} }}
    }} }}"""
CREATE_RULE = f"""mutation($kpi: String!, $input: CreateAlertRuleInput!) {{
    createAlertRule(kpi: $kpi, input: $input) {{ {RESULT}
    ... on CreateAlertRulePayload {{ alertRule {{ {RULE_FIELDS} }} }} }} }}"""
UPDATE_RULE = f"""mutation($kpi: String!, $id: UUID!, $input: UpdateAlertRuleInput!,
    $ifMatch: String) {{ updateAlertRule(kpi: $kpi, id: $id, input: $input, ifMatch: $ifMatch) {{
    {RESULT} ... on UpdateAlertRulePayload {{ alertRule {{ {RULE_FIELDS} }} }} }} }}"""
DELETE_RULE = f"""mutation($kpi: String!, $id: UUID!) {{ deleteAlertRule(kpi: $kpi, id: $id) {{
    {RESULT} ... on DeleteAlertRulePayload {{ id }} }} }}"""
KPI = f"""query($ref: String!) {{ kpi(idOrKey: $ref) {{ {KPI_FIELDS}
    alertRules {{ id name }}
    alerts {{ fingerprint state severity lastValue kpi {{ key }} rule {{ name }} }}
    }} }}"""


async def make_kpi(tenant: Tenant, key: str = "churn", **extra: Any) -> dict[str, Any]:
    return await tenant.create("/v1/kpis", {"key": key, "name": key.title(), **extra})


async def test_kpi_by_id_and_key_with_owner_team_and_latest(tenant: Tenant) -> None:
    ada = await tenant.create("/v1/people", {"user_name": "ada", "display_name": "Ada"})
    team = await tenant.create("/v1/teams", {"name": "Growth"})
    kpi = await make_kpi(
        tenant, unit="percent", owner_id=ada["id"], team_id=team["id"], target=2.5,
        direction="lower_is_better", description="Monthly churn",
    )  # fmt: skip
    await tenant.post(
        "/v1/kpis/churn/readings", json={"value": 2.0, "observed_at": "2026-11-01T00:00:00Z"}
    )
    by_key = (await data(tenant, KPI, {"ref": "churn"}))["kpi"]
    by_id = (await data(tenant, KPI, {"ref": kpi["id"]}))["kpi"]
    assert by_key == by_id
    assert by_key["id"] == kpi["id"] and by_key["unit"] == "percent"
    assert by_key["direction"] == "LOWER_IS_BETTER" and by_key["health"] == "HEALTHY"
    assert by_key["latest"] == {"value": 2.0, "observedAt": "2026-11-01T00:00:00Z"}
    assert by_key["owner"] == {"userName": "ada"} and by_key["team"] == {"name": "Growth"}
    assert [r["name"] for r in by_key["alertRules"]] == ["target"]
    [alert] = by_key["alerts"]
    assert alert["state"] == "OK" and alert["kpi"] == {"key": "churn"}
    assert alert["rule"] == {"name": "target"}
    rest = await tenant.get(f"/v1/kpis/{kpi['id']}")
    assert rest.headers["etag"] == by_key["etag"]
    missing = await data(tenant, KPI, {"ref": "nope"})
    assert missing == {"kpi": None}
    assert (await data(tenant, KPI, {"ref": str(uuid.uuid4())})) == {"kpi": None}


async def test_kpis_connection_pages_like_rest(tenant: Tenant) -> None:
    ids = [(await make_kpi(tenant, key=f"k{i}"))["id"] for i in range(5)]
    query = """query($after: String) { kpis(first: 2, after: $after) {
        edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }"""
    seen, after = [], None
    while True:
        page = (await data(tenant, query, {"after": after}))["kpis"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ids
    rest = (await tenant.get("/v1/kpis", params={"limit": 2})).json()
    first = (await data(tenant, query))["kpis"]
    assert rest["next_cursor"] == first["pageInfo"]["endCursor"]
    body = await gql(tenant, "{ kpis(first: 0) { edges { cursor } } }")
    assert body["errors"][0]["extensions"]["code"] == "validation_failed"


async def test_readings_connection_and_series(tenant: Tenant) -> None:
    await make_kpi(tenant)
    readings = [
        {"kpi": "churn", "value": v, "observedAt": f"2026-11-01T0{h}:{m}:00Z"}
        for v, h, m in ((1, 0, "00"), (3, 0, "30"), (5, 1, "00"), (7, 1, "15"), (9, 2, "00"))
    ]
    assert (await mutate(tenant, INGEST, readings=readings))["created"] == 5
    query = """query($after: String, $from: DateTime, $to: DateTime) { kpi(idOrKey: "churn") {
        readings(first: 2, after: $after, from: $from, to: $to) {
          edges { cursor node { value observedAt source kpiId } }
          pageInfo { hasNextPage endCursor } } } }"""
    values, after = [], None
    while True:
        page = (await data(tenant, query, {"after": after}))["kpi"]["readings"]
        values += [e["node"]["value"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert values == [1, 3, 5, 7, 9]
    rest = (await tenant.get("/v1/kpis/churn/readings", params={"limit": 2})).json()
    first = (await data(tenant, query))["kpi"]["readings"]
    assert first["pageInfo"]["endCursor"] == rest["next_cursor"]
    assert first["edges"][0]["node"]["source"] == rest["items"][0]["source"]
    ranged = await data(
        tenant, query, {"from": "2026-11-01T00:30:00Z", "to": "2026-11-01T02:00:00Z"}
    )
    assert [e["node"]["value"] for e in ranged["kpi"]["readings"]["edges"]] == [3, 5]

    series = """query($agg: Aggregation!) { kpi(idOrKey: "churn") {
        series(bucket: "1h", agg: $agg) { bucket agg points { bucketStart value samples } } } }"""
    got = (await data(tenant, series, {"agg": "AVG"}))["kpi"]["series"]
    assert got["bucket"] == "1h" and got["agg"] == "AVG"
    assert [(p["value"], p["samples"]) for p in got["points"]] == [(2, 2), (6, 2), (9, 1)]
    assert got["points"][0]["bucketStart"] == "2026-11-01T00:00:00Z"
    rest_series = (
        await tenant.get("/v1/kpis/churn/readings", params={"bucket": "1h", "agg": "max"})
    ).json()
    got = (await data(tenant, series, {"agg": "MAX"}))["kpi"]["series"]
    assert [p["value"] for p in got["points"]] == [i["value"] for i in rest_series["items"]]
    bad = await gql(tenant, '{ kpi(idOrKey: "churn") { series(bucket: "soon") { bucket } } }')
    assert bad["errors"][0]["extensions"]["code"] == "validation_failed"


async def test_create_update_delete_kpi(tenant: Tenant) -> None:
    created = await mutate(
        tenant, CREATE_KPI, input={"key": "nps", "name": "NPS", "target": 40, "unit": "points"}
    )
    assert created["__typename"] == "CreateKpiPayload", created
    kpi = created["kpi"]
    assert kpi["key"] == "nps" and kpi["direction"] == "HIGHER_IS_BETTER"
    assert kpi["health"] == "UNKNOWN" and kpi["latest"] is None
    assert kpi["alertRules"] == [{"isDefault": True, "operator": "LT", "critical": 40.0}]
    assert (await tenant.get("/v1/kpis/nps")).json()["id"] == kpi["id"]

    dup = await mutate(tenant, CREATE_KPI, input={"key": "nps", "name": "Again"})
    assert dup["__typename"] == "ConflictError" and dup["code"] == "conflict"
    slug = await mutate(tenant, CREATE_KPI, input={"key": "Not A Slug", "name": "x"})
    assert slug["__typename"] == "ValidationError" and slug["fields"][0]["field"] == "key"
    owner = await mutate(
        tenant, CREATE_KPI, input={"key": "x", "name": "x", "ownerId": str(uuid.uuid4())}
    )
    assert owner["__typename"] == "ValidationError"
    assert [f["field"] for f in owner["fields"]] == ["ownerId"]

    updated = await mutate(
        tenant, UPDATE_KPI, ref="nps", input={"target": 50, "name": "Net promoter"},
        ifMatch=kpi["etag"],
    )  # fmt: skip
    assert updated["__typename"] == "UpdateKpiPayload", updated
    assert updated["kpi"]["target"] == 50 and updated["kpi"]["alertRules"] == [{"critical": 50.0}]
    stale = await mutate(tenant, UPDATE_KPI, ref="nps", input={"target": 1}, ifMatch=kpi["etag"])
    assert stale["__typename"] == "PreconditionFailedError"
    null_name = await mutate(tenant, UPDATE_KPI, ref=kpi["id"], input={"name": None})
    assert null_name["__typename"] == "ValidationError"
    missing = await mutate(tenant, UPDATE_KPI, ref="nope", input={"name": "x"})
    assert missing["__typename"] == "NotFoundError" and missing["code"] == "not_found"

    deleted = await mutate(tenant, DELETE_KPI, ref="nps")
    assert deleted == {"__typename": "DeleteKpiPayload", "id": kpi["id"]}
    assert (await tenant.get("/v1/kpis/nps")).status_code == 404
    again = await mutate(tenant, DELETE_KPI, ref="nps")
    assert again["__typename"] == "NotFoundError"


async def test_ingest_reports_every_item(tenant: Tenant) -> None:
    kpi = await make_kpi(tenant)
    readings = [
        {"kpi": "churn", "value": 1.0, "observedAt": "2026-11-01T00:00:00Z", "source": "s"},
        {"kpi": "churn", "value": 1.0, "observedAt": "2026-11-01T00:00:00Z", "source": "s"},
        {"kpi": "missing", "value": 2.0},
        {"kpi": kpi["id"], "value": 3.0, "observedAt": "2999-01-01T00:00:00Z"},
        {"kpi": kpi["id"], "value": 4.0, "observedAt": "2026-11-02T00:00:00Z"},
    ]
    got = await mutate(tenant, INGEST, readings=readings)
    assert got["__typename"] == "IngestReadingsPayload", got
    assert (got["created"], got["duplicates"], got["rejected"]) == (2, 1, 2)
    statuses = [(r["index"], r["status"]) for r in got["results"]]
    assert statuses == [(0, "CREATED"), (1, "DUPLICATE"), (2, "REJECTED"), (3, "REJECTED"),
                        (4, "CREATED")]  # fmt: skip
    assert got["results"][0]["kpiId"] == kpi["id"]
    assert got["results"][0]["observedAt"] == "2026-11-01T00:00:00Z"
    assert got["results"][2]["problem"]["status"] == 404
    assert got["results"][3]["problem"] == {
        "status": 422, "detail": "`observed_at` is in the future.", "errors": None
    }  # fmt: skip
    # A repeat of the whole batch stores nothing new.
    again = await mutate(tenant, INGEST, readings=readings[:2])
    assert (again["created"], again["duplicates"]) == (0, 2)
    empty = await mutate(tenant, INGEST, readings=[])
    assert empty["__typename"] == "ValidationError"


async def test_nul_in_a_kpi_ref_or_source_is_a_rejected_item_over_graphql_and_rest(
    tenant: Tenant,
) -> None:
    # PostgreSQL text cannot hold NUL: it reached the database and came back an internal
    # error before the schema refused control characters (found by Schemathesis).
    await make_kpi(tenant)
    readings = [
        {"kpi": "chu\u0000rn", "value": 1.0},
        {"kpi": "churn", "value": 2.0, "source": "a\u0000b"},
        {"kpi": "churn", "value": 3.0},
    ]
    got = await mutate(tenant, INGEST, readings=readings)
    assert got["__typename"] == "IngestReadingsPayload", got
    assert [r["status"] for r in got["results"]] == ["REJECTED", "REJECTED", "CREATED"]
    assert {r["problem"]["status"] for r in got["results"][:2]} == {422}
    posted = await tenant.post("/v1/readings", json={"readings": readings})
    assert posted.status_code == 200, posted.text
    assert [r["status"] for r in posted.json()["results"]] == ["rejected", "rejected", "created"]


async def test_atomic_ingest_stores_nothing_when_one_item_is_bad(tenant: Tenant) -> None:
    await make_kpi(tenant)
    readings = [{"kpi": "churn", "value": 1.0}, {"kpi": "nope", "value": 2.0}]
    got = await mutate(tenant, INGEST, readings=readings, atomic=True)
    assert got["__typename"] == "IngestRefusedError", got
    assert got["code"] == "validation_failed" and "nothing was stored" in got["message"]
    assert got["results"] == [
        {"index": 1, "status": "REJECTED", "problem": {"status": 404, "detail": got["results"][0]
         ["problem"]["detail"]}}
    ]  # fmt: skip
    assert (await tenant.get("/v1/kpis/churn/readings")).json()["items"] == []
    ok = await mutate(tenant, INGEST, readings=readings[:1], atomic=True)
    assert ok["__typename"] == "IngestReadingsPayload" and ok["created"] == 1


async def test_alert_rule_mutations(tenant: Tenant) -> None:
    await make_kpi(tenant, target=3.0, direction="lower_is_better")
    created = await mutate(
        tenant, CREATE_RULE, kpi="churn",
        input={"operator": "GT", "warning": 2.0, "critical": 2.5, "window": "PT10M",
               "pendingFor": "PT2M", "labels": {"team": "growth"}},
    )  # fmt: skip
    assert created["__typename"] == "CreateAlertRulePayload", created
    rule = created["alertRule"]
    assert (rule["operator"], rule["warning"], rule["critical"]) == ("GT", 2.0, 2.5)
    assert (rule["window"], rule["pendingFor"], rule["keepFiringFor"]) == ("PT10M", "PT2M", "PT0S")
    assert rule["labels"] == {"team": "growth"} and rule["version"] == 1
    assert rule["aggregation"] == "LAST" and rule["onNoData"] == "NO_DATA"
    assert rule["noDataAfter"] is None and not rule["isDefault"]
    # The custom rule replaced the default one.
    rules = (await data(tenant, KPI, {"ref": "churn"}))["kpi"]["alertRules"]
    assert [r["id"] for r in rules] == [rule["id"]]

    band = await mutate(
        tenant, CREATE_RULE, kpi="churn",
        input={"operator": "OUTSIDE", "critical": {"lo": 1, "hi": 4}},
    )  # fmt: skip
    assert band["alertRule"]["critical"] == {"lo": 1.0, "hi": 4.0}

    updated = await mutate(
        tenant, UPDATE_RULE, kpi="churn", id=rule["id"], input={"critical": 3.0},
        ifMatch=rule["etag"],
    )  # fmt: skip
    assert updated["__typename"] == "UpdateAlertRulePayload", updated
    assert updated["alertRule"]["critical"] == 3.0 and updated["alertRule"]["version"] == 2
    stale = await mutate(
        tenant, UPDATE_RULE, kpi="churn", id=rule["id"], input={"critical": 4.0},
        ifMatch=rule["etag"],
    )  # fmt: skip
    assert stale["__typename"] == "PreconditionFailedError"

    deleted = await mutate(tenant, DELETE_RULE, kpi="churn", id=rule["id"])
    assert deleted == {"__typename": "DeleteAlertRulePayload", "id": rule["id"]}
    gone = await mutate(tenant, DELETE_RULE, kpi="churn", id=rule["id"])
    assert gone["__typename"] == "NotFoundError"
    no_kpi = await mutate(tenant, CREATE_RULE, kpi="nope", input={"operator": "GT", "critical": 1})
    assert no_kpi["__typename"] == "NotFoundError"


async def test_inconsistent_rules_are_validation_errors(tenant: Tenant) -> None:
    await make_kpi(tenant)
    bad = [
        {"operator": "GT", "warning": 3, "critical": 2},
        {"operator": "GT", "critical": 2, "criticalRecovery": 2.5},
        {"operator": "OUTSIDE", "critical": 2},
        {"operator": "GT"},
        {"operator": "GT", "critical": 1, "window": "5 minutes"},
        {"operator": "GT", "critical": 1, "window": "P1Y"},
        {"operator": "GT", "critical": 1, "minSamples": 0},
    ]
    for body in bad:
        got = await mutate(tenant, CREATE_RULE, kpi="churn", input=body)
        assert got["__typename"] == "ValidationError", (body, got)
        assert got["code"] == "validation_failed" and got["message"]
    window = await mutate(
        tenant, CREATE_RULE, kpi="churn", input={"operator": "GT", "critical": 1, "window": "x"}
    )
    assert [f["field"] for f in window["fields"]] == ["window"]
    rule = await tenant.create("/v1/kpis/churn/alert-rules", {"operator": "gt", "critical": 2})
    worse = await mutate(tenant, UPDATE_RULE, kpi="churn", id=rule["id"], input={"warning": 5})
    assert worse["__typename"] == "ValidationError"
    assert (await tenant.get("/v1/kpis/churn/alert-rules")).json()[0]["warning"] is None


async def test_breach_is_visible_through_alerts_after_ingest(tenant: Tenant) -> None:
    await make_kpi(tenant)
    await tenant.create(
        "/v1/kpis/churn/alert-rules", {"operator": "gt", "warning": 2.0, "critical": 2.5}
    )
    await mutate(tenant, INGEST, readings=[{"kpi": "churn", "value": 3.0}])
    query = """query($state: AlertState) { alerts(state: $state) {
        edges { cursor node { fingerprint state severity lastValue alertId kpi { key } } }
        pageInfo { hasNextPage endCursor } } }"""
    firing = (await data(tenant, query, {"state": "FIRING"}))["alerts"]
    [edge] = firing["edges"]
    assert edge["node"]["severity"] == "CRITICAL" and edge["node"]["lastValue"] == 3.0
    assert edge["node"]["kpi"] == {"key": "churn"} and edge["node"]["alertId"]
    assert edge["cursor"] == edge["node"]["fingerprint"]
    rest = (await tenant.get("/v1/alerts", params={"state": "firing"})).json()["items"]
    assert [a["fingerprint"] for a in rest] == [edge["node"]["fingerprint"]]
    assert (await data(tenant, query, {"state": "OK"}))["alerts"]["edges"] == []
    kpi = (await data(tenant, KPI, {"ref": "churn"}))["kpi"]
    assert [(a["state"], a["severity"]) for a in kpi["alerts"]] == [("FIRING", "CRITICAL")]


async def test_scopes_are_the_services(tenant: Tenant) -> None:
    kpi = await make_kpi(tenant)
    rule = await tenant.create("/v1/kpis/churn/alert-rules", {"operator": "gt", "critical": 2})
    reader = await tenant.key_with("read")
    ingester = await tenant.key_with("ingest")
    writes: list[tuple[str, dict[str, Any]]] = [
        (CREATE_KPI, {"input": {"key": "x", "name": "x"}}),
        (UPDATE_KPI, {"ref": "churn", "input": {"name": "y"}}),
        (DELETE_KPI, {"ref": "churn"}),
        (CREATE_RULE, {"kpi": "churn", "input": {"operator": "GT", "critical": 1}}),
        (UPDATE_RULE, {"kpi": "churn", "id": rule["id"], "input": {"critical": 3}}),
        (DELETE_RULE, {"kpi": "churn", "id": rule["id"]}),
    ]
    for key in (reader, ingester):
        for document, variables in writes:
            got = await mutate(key, document, **variables)
            assert got["__typename"] == "ForbiddenError", (document, got)
            assert got["code"] == "forbidden"
    # Readers read but may not ingest; ingest-only keys ingest but may not read.
    assert (await data(reader, KPI, {"ref": "churn"}))["kpi"]["id"] == kpi["id"]
    refused = await mutate(reader, INGEST, readings=[{"kpi": "churn", "value": 1}])
    assert refused["__typename"] == "ForbiddenError"
    ingested = await mutate(ingester, INGEST, readings=[{"kpi": "churn", "value": 1}])
    assert ingested["__typename"] == "IngestReadingsPayload" and ingested["created"] == 1
    for document in (KPI, "{ kpis { edges { cursor } } }", "{ alerts { edges { cursor } } }"):
        body = await gql(ingester, document, {"ref": "churn"})
        assert body["errors"][0]["extensions"]["code"] == "forbidden", body
    assert (await tenant.get("/v1/kpis/churn")).json()["name"] == "Churn"


async def test_ingest_key_limited_to_some_kpis_gets_a_403_per_item(tenant: Tenant) -> None:
    allowed = await make_kpi(tenant)
    await make_kpi(tenant, key="secret")
    created = await tenant.create(
        "/v1/api-keys", {"name": "limited", "scopes": ["ingest"], "kpi_ids": [allowed["id"]]}
    )
    limited = Tenant(tenant.organization_id, created["key"], tenant.http)
    batch = [{"kpi": "churn", "value": 2}, {"kpi": "secret", "value": 2}]
    got = await mutate(limited, INGEST, readings=batch)
    assert [r["status"] for r in got["results"]] == ["CREATED", "REJECTED"]
    assert got["results"][1]["problem"]["status"] == 403
    refused = await mutate(limited, INGEST, readings=batch, atomic=True)
    assert refused["__typename"] == "IngestRefusedError"
    assert [r["index"] for r in refused["results"]] == [1]


async def test_kpis_are_invisible_across_organizations(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    kpi = await make_kpi(tenant, target=1.0)
    rule = (await tenant.get("/v1/kpis/churn/alert-rules")).json()[0]
    await tenant.post("/v1/kpis/churn/readings", json={"value": 5.0})
    for ref in ("churn", kpi["id"]):
        assert (await data(other_tenant, KPI, {"ref": ref})) == {"kpi": None}
        got = await mutate(other_tenant, UPDATE_KPI, ref=ref, input={"name": "mine"})
        assert got["__typename"] == "NotFoundError"
        assert (await mutate(other_tenant, DELETE_KPI, ref=ref))["__typename"] == "NotFoundError"
        got = await mutate(
            other_tenant, CREATE_RULE, kpi=ref, input={"operator": "GT", "critical": 1}
        )
        assert got["__typename"] == "NotFoundError"
        got = await mutate(other_tenant, DELETE_RULE, kpi=ref, id=rule["id"])
        assert got["__typename"] == "NotFoundError"
    listed = await data(other_tenant, "{ kpis { edges { cursor } } alerts { edges { cursor } } }")
    assert listed == {"kpis": {"edges": []}, "alerts": {"edges": []}}
    ingested = await mutate(other_tenant, INGEST, readings=[{"kpi": kpi["id"], "value": 1}])
    assert ingested["rejected"] == 1 and ingested["results"][0]["problem"]["status"] == 404
    # The other organization may use the same key for its own KPI.
    mine = await mutate(other_tenant, CREATE_KPI, input={"key": "churn", "name": "Churn"})
    assert mine["__typename"] == "CreateKpiPayload"
    assert (await data(tenant, KPI, {"ref": "churn"}))["kpi"]["id"] == kpi["id"]


NESTED = """{ kpis(first: 50) { edges { node { key
    owner { userName } team { name } alertRules { id critical } alerts { state } } } } }"""


async def seed_kpis(app: FastAPI, tenant: Tenant, start: int, count: int) -> None:
    """KPIs with a target (so each has a default rule and its series), owned by distinct
    people and teams; created through the service so the rules exist as REST makes them."""
    principal = Principal(
        organization_id=tenant.organization_id,
        api_key_id=uuid.uuid4(),
        key_name="seed",
        scopes=frozenset({Scope.WRITE, Scope.READ}),
    )
    async with app.state.sessionmaker() as session:
        for i in range(start, start + count):
            person = Person(organization_id=tenant.organization_id, user_name=f"p{i}",
                            display_name=f"P{i}")  # fmt: skip
            team = Team(organization_id=tenant.organization_id, name=f"T{i}")
            session.add_all([person, team])
            await session.flush()
            data_ = KpiCreate(key=f"k{i}", name=f"K{i}", owner_id=person.id, team_id=team.id,
                              target=float(i))  # fmt: skip
            await kpi_service.create_kpi(session, principal, data_)
        await session.commit()


async def test_nested_kpi_query_statement_count_does_not_grow(app: FastAPI, tenant: Tenant) -> None:
    counts: dict[int, int] = {}
    await data(tenant, "{ kpis { edges { cursor } } }")  # the key's last-used time moves now
    for before, total in ((0, 5), (5, 30)):
        await seed_kpis(app, tenant, before, total - before)
        with count_statements(app) as statements:
            got = await data(tenant, NESTED)
        edges = got["kpis"]["edges"]
        assert len(edges) == total
        assert all(e["node"]["owner"] and e["node"]["team"] for e in edges)
        assert all(len(e["node"]["alertRules"]) == 1 for e in edges)
        assert all(e["node"]["alerts"] == [{"state": "OK"}] for e in edges)
        counts[total] = len(statements)
    # The API key, the KPI page, then one batch each for people, teams, rules and alert
    # series. Measured: 6 statements for 5 KPIs and for 30.
    assert counts[5] == counts[30], counts
    assert counts[30] <= 6, counts


CONCURRENT = """{
  a: kpis(first: 30) { edges { node { key owner { id } team { id } alertRules { id }
      alerts { state kpi { key } } } } }
  b: kpi(idOrKey: "k1") { readings { edges { node { value } } } series(bucket: "1h") {
      points { value } } alertRules { id } }
  c: kpi(idOrKey: "k2") { readings(first: 1) { edges { node { value } } }
      series(bucket: "1d", agg: MAX) { points { value } } }
  alerts(first: 100) { edges { node { state kpi { key } } } }
}"""


async def test_sibling_kpi_fields_never_share_the_session_at_once(
    app: FastAPI, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root lists, loader batches and the raw asyncpg reads of ``readings`` and ``series``
    resolve concurrently on the request's one session; ``ctx.db_lock`` serialises them."""
    await seed_kpis(app, tenant, 0, 30)
    readings = [{"kpi": f"k{i}", "value": i} for i in range(3)]
    assert (await mutate(tenant, INGEST, readings=readings))["created"] == 3
    use = SessionUse()
    use.watch(monkeypatch)
    for _ in range(3):
        got = await data(tenant, CONCURRENT)
        assert len(got["a"]["edges"]) == 30 and len(got["alerts"]["edges"]) == 30
        assert got["b"]["readings"]["edges"] == [{"node": {"value": 1.0}}]
        assert got["c"]["series"]["points"] == [{"value": 2.0}]
    assert use.most == 1


async def test_a_failed_mutation_leaves_its_siblings_committed(tenant: Tenant) -> None:
    document = """mutation {
      ok: createKpi(input: {key: "nps", name: "NPS"}) { __typename }
      dup: createKpi(input: {key: "nps", name: "Again"}) { __typename }
      rule: createAlertRule(kpi: "nps", input: {operator: GT, warning: 3, critical: 2}) {
        __typename }
    }"""
    got = await data(tenant, document)
    assert got == {"ok": {"__typename": "CreateKpiPayload"},
                   "dup": {"__typename": "ConflictError"},
                   "rule": {"__typename": "ValidationError"}}  # fmt: skip
    assert (await tenant.get("/v1/kpis/nps")).json()["name"] == "NPS"
    assert (await tenant.get("/v1/kpis/nps/alert-rules")).json() == []
