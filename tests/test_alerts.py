"""Alert rules and the breach lifecycle against the database: ingest-time and scheduled
evaluation, events in the outbox, racing evaluators, muting, rule edits and tenancy."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select

from service.kpis import rules_repository
from service.kpis.evaluator import evaluate_rules
from service.kpis.scheduler import evaluate_all
from service.models import Event
from tests.conftest import Tenant


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def now() -> datetime:
    return datetime.now(UTC)


async def make_kpi(tenant: Tenant, **extra: Any) -> dict[str, Any]:
    return await tenant.create("/v1/kpis", {"key": "churn", "name": "Churn", **extra})


async def rule(tenant: Tenant, **body: Any) -> dict[str, Any]:
    payload = {"operator": "gt", "warning": 2.0, "critical": 2.5} | body
    return await tenant.create("/v1/kpis/churn/alert-rules", payload)


async def history(tenant: Tenant) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await tenant.get("/v1/kpis/churn/alert-history")).json()["items"]
    return items


async def post(tenant: Tenant, value: float, at: datetime | None = None) -> None:
    response = await tenant.post(
        "/v1/kpis/churn/readings", json={"value": value, "observed_at": iso(at or now())}
    )
    assert response.status_code in (200, 201), response.text


async def test_rule_crud_and_durations(tenant: Tenant) -> None:
    await make_kpi(tenant)
    created = await rule(tenant, window="PT10M", pending_for="PT2M", labels={"team": "growth"})
    assert created["window"] == "PT10M" and created["pending_for"] == "PT2M"
    assert created["keep_firing_for"] == "PT0S" and created["version"] == 1
    url = f"/v1/kpis/churn/alert-rules/{created['id']}"
    got = await tenant.get(url)
    assert got.status_code == 200 and got.headers["etag"]
    patched = await tenant.patch(
        url, json={"critical": 3.0}, headers={"If-Match": got.headers["etag"]}
    )
    assert patched.status_code == 200 and patched.json()["version"] == 2
    stale = await tenant.patch(
        url, json={"critical": 4.0}, headers={"If-Match": got.headers["etag"]}
    )
    assert stale.status_code == 412
    assert (await tenant.delete(url)).status_code == 204
    assert (await tenant.get(url)).status_code == 404


async def test_inconsistent_rules_are_refused(tenant: Tenant) -> None:
    await make_kpi(tenant)
    bad = [
        {"operator": "gt", "warning": 3, "critical": 2},
        {"operator": "gt", "critical": 2, "critical_recovery": 2.5},
        {"operator": "outside", "critical": 2},
        {"operator": "gt"},
        {"operator": "gt", "critical": 1, "window": "5 minutes"},
        {"operator": "gt", "critical": 1, "window": "P1Y"},
        {"operator": "between", "critical": 1},
    ]
    for body in bad:
        response = await tenant.post("/v1/kpis/churn/alert-rules", json=body)
        assert response.status_code == 422, body
    assert (await tenant.get("/v1/kpis/churn/alert-rules")).json() == []


async def test_default_rule_follows_the_target(tenant: Tenant) -> None:
    await make_kpi(tenant, target=2.5, direction="lower_is_better")
    rules = (await tenant.get("/v1/kpis/churn/alert-rules")).json()
    assert [(r["is_default"], r["operator"], r["critical"]) for r in rules] == [(True, "gt", 2.5)]
    await post(tenant, 3.0)
    assert [e["type"] for e in await history(tenant)] == ["kpi.breached"]
    moved = await tenant.patch("/v1/kpis/churn", json={"target": 3.5})
    assert moved.status_code == 200, moved.text
    rules = (await tenant.get("/v1/kpis/churn/alert-rules")).json()
    assert rules[0]["critical"] == 3.5
    # Moving the target restarts the series: the open alert resolves as rule_changed.
    latest = (await history(tenant))[0]
    assert latest["type"] == "kpi.recovered"
    assert latest["body"]["data"]["notification_reason"] == "rule_changed"
    await rule(tenant)
    assert [r["is_default"] for r in (await tenant.get("/v1/kpis/churn/alert-rules")).json()] == [
        False
    ]


async def test_ingest_breach_writes_one_event_in_the_same_transaction(tenant: Tenant) -> None:
    await make_kpi(tenant)
    created = await rule(tenant)
    await post(tenant, 1.0)
    await post(tenant, 2.2)
    await post(tenant, 2.3)  # still warning: no second event
    await post(tenant, 3.0)
    events = await history(tenant)
    reasons = [(e["type"], e["body"]["data"]["notification_reason"]) for e in events]
    assert reasons == [("kpi.breached", "escalated"), ("kpi.breached", "new")]
    data = events[0]["body"]["data"]
    assert data["sequence"] == 2 and events[1]["body"]["data"]["sequence"] == 1
    assert data["alert_id"] == events[1]["body"]["data"]["alert_id"]
    assert data["fingerprint"] == data["dedup_key"] and data["fingerprint"].startswith("fp_")
    assert data["rule"]["id"] == created["id"] and data["evaluation"]["value"] == 3.0
    assert data["kpi"]["key"] == "churn" and data["severity"] == "critical"
    alerts = (await tenant.get("/v1/alerts", params={"state": "firing"})).json()["items"]
    assert len(alerts) == 1 and alerts[0]["severity"] == "critical"
    assert alerts[0]["alert_id"] == data["alert_id"]


async def test_late_reading_outside_the_window_changes_nothing(tenant: Tenant) -> None:
    await make_kpi(tenant)
    await rule(tenant, window="PT5M")
    await post(tenant, 1.0)
    await post(tenant, 9.0, now() - timedelta(hours=2))  # stored, but far outside the window
    assert await history(tenant) == []
    assert len((await tenant.get("/v1/kpis/churn/readings")).json()["items"]) == 2
    assert (await tenant.get("/v1/alerts", params={"state": "ok"})).json()["items"][0][
        "last_value"
    ] == 1.0


async def test_scheduled_evaluation_handles_pending_and_no_data(
    app: FastAPI, tenant: Tenant
) -> None:
    await make_kpi(tenant)
    await rule(tenant, pending_for="PT5M", window="PT10M", no_data_after="PT30M")
    t0 = now()
    await post(tenant, 3.0, t0)
    assert (await tenant.get("/v1/alerts")).json()["items"][0]["state"] == "pending"
    await evaluate_all(app.state.sessionmaker, now=t0 + timedelta(minutes=4))
    assert await history(tenant) == []  # pending for 4 of 5 minutes
    await evaluate_all(app.state.sessionmaker, now=t0 + timedelta(minutes=6))
    assert [e["type"] for e in await history(tenant)] == ["kpi.breached"]
    await evaluate_all(app.state.sessionmaker, now=t0 + timedelta(minutes=31))
    # The breach episode ends (said so) and a no-data episode with its own key begins.
    listed = await history(tenant)
    assert [e["type"] for e in listed] == ["kpi.no_data", "kpi.recovered", "kpi.breached"]
    events = [e["body"]["data"] for e in listed]
    said = [(e["notification_reason"], e["alert_id"], e["dedup_key"]) for e in events]
    (no_data, no_data_id, no_data_key), (ended, ended_id, ended_key), (new, new_id, key) = said
    assert (no_data, ended, new) == ("no_data", "no_data", "new")
    assert ended_id == new_id != no_data_id and ended_key == key == events[0]["fingerprint"]
    assert no_data_key == key + ":no_data"


async def test_racing_evaluators_emit_each_transition_once(app: FastAPI, tenant: Tenant) -> None:
    await make_kpi(tenant)
    await rule(tenant, pending_for="PT5M", window="PT10M")
    t0 = now()
    await post(tenant, 3.0, t0)
    at = t0 + timedelta(minutes=6)
    results = await asyncio.gather(
        *[evaluate_all(app.state.sessionmaker, now=at) for _ in range(6)]
    )
    assert sum(results) == 1
    assert [e["type"] for e in await history(tenant)] == ["kpi.breached"]
    async with app.state.sessionmaker() as session:
        count = await session.scalar(select(func.count()).select_from(Event))
    assert count == 1


async def test_muted_rule_still_transitions_but_is_marked_suppressed(tenant: Tenant) -> None:
    await make_kpi(tenant)
    await rule(tenant, muted_until=iso(now() + timedelta(hours=1)))
    await post(tenant, 3.0)
    event = (await history(tenant))[0]
    assert event["suppressed_reason"] == "silence"
    assert event["body"]["data"]["suppressed_reason"] == "silence"
    assert (await tenant.get("/v1/alerts", params={"state": "firing"})).json()["items"]


async def test_event_body_is_exact_json_bytes(app: FastAPI, tenant: Tenant) -> None:
    await make_kpi(tenant)
    await rule(tenant)
    await post(tenant, 3.0)
    async with app.state.sessionmaker() as session:
        stored = (await session.scalars(select(Event))).one()
    body = json.loads(stored.body)
    assert body["type"] == "kpi.breached" and body["timestamp"].endswith("Z")
    assert stored.id.startswith("msg_") and stored.sequence == 1


async def test_alerts_are_scoped_to_the_organization(tenant: Tenant, other_tenant: Tenant) -> None:
    await make_kpi(tenant)
    created = await rule(tenant)
    await post(tenant, 3.0)
    assert (await other_tenant.get("/v1/alerts")).json()["items"] == []
    assert (await other_tenant.get("/v1/kpis/churn/alert-history")).status_code == 404
    assert (
        await other_tenant.get(f"/v1/kpis/churn/alert-rules/{created['id']}")
    ).status_code == 404
    await make_kpi(other_tenant)
    assert (
        await other_tenant.get(f"/v1/kpis/churn/alert-rules/{created['id']}")
    ).status_code == 404


async def test_write_scope_needed_for_rules(tenant: Tenant) -> None:
    await make_kpi(tenant)
    reader = await tenant.key_with("read")
    response = await reader.post(
        "/v1/kpis/churn/alert-rules", json={"operator": "gt", "critical": 1}
    )
    assert response.status_code == 403
    assert (await reader.get("/v1/kpis/churn/alert-rules")).status_code == 200


async def test_a_rule_edited_before_its_series_is_locked_is_read_again(
    app: FastAPI, tenant: Tenant
) -> None:
    """The scheduler reads a page of rules, then locks their series: an edit committed in
    between must not be evaluated by the rule as it was read."""
    await make_kpi(tenant)
    created = await rule(tenant, warning=None, critical=2.5)
    async with app.state.sessionmaker() as session:
        stale = await rules_repository.rules_by_id(session, [uuid.UUID(created["id"])])
    url = f"/v1/kpis/churn/alert-rules/{created['id']}"
    edited = await tenant.patch(url, json={"critical": 5.0}, headers={"If-Match": "*"})
    assert edited.status_code == 200, edited.text
    await post(tenant, 3.0)  # above the old threshold, below the new one
    async with app.state.sessionmaker() as session, session.begin():
        assert await evaluate_rules(session, stale, now(), skip_locked=True) == 0
    assert await history(tenant) == []
    assert (await tenant.get("/v1/alerts")).json()["items"][0]["state"] == "ok"
    disabled = await tenant.patch(url, json={"enabled": False}, headers={"If-Match": "*"})
    assert disabled.status_code == 200, disabled.text
    async with app.state.sessionmaker() as session, session.begin():
        assert await evaluate_rules(session, stale, now(), skip_locked=True) == 0
    assert await history(tenant) == []
