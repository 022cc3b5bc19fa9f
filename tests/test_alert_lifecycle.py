"""Alert series over their whole life against the database: a no-data rule with nothing to
fire at, no data after a breach, a KPI deleted while firing, the history of rules since
deleted, and a scheduler pass that one broken series cannot stop."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from service.kpis.scheduler import SERIES_FAILURES, evaluate_all
from service.models import Event
from tests.conftest import Tenant
from tests.test_alerts import history, iso, make_kpi, now, post, rule
from tests.test_graphql_kpis import DELETE_KPI
from tests.test_graphql_mutations import mutate


def said(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(type, notification_reason) of history items, oldest first."""
    return [(e["type"], e["body"]["data"]["notification_reason"]) for e in reversed(events)]


async def test_a_warning_only_rule_alerting_on_no_data_keeps_taking_readings(
    app: FastAPI, tenant: Tenant
) -> None:
    """No data fired it as critical, which it has no threshold for: every later reading of
    the KPI was a 500, and so was the scheduler pass that met one."""
    await make_kpi(tenant)
    await rule(tenant, warning=2.0, critical=None, window="PT1M", on_no_data="alerting")
    await post(tenant, 1.0, now() - timedelta(minutes=10))
    await evaluate_all(app.state.sessionmaker)
    [alert] = (await tenant.get("/v1/alerts")).json()["items"]
    assert (alert["state"], alert["severity"]) == ("firing", "warning")
    await post(tenant, 1.0)
    assert said(await history(tenant)) == [
        ("kpi.breached", "no_data"),
        ("kpi.recovered", "resolved"),
    ]
    later = now() + timedelta(minutes=4)
    await post(tenant, 3.0, later)  # ahead of the clock: the scheduler's to judge
    assert await evaluate_all(app.state.sessionmaker, later) == 1
    assert said(await history(tenant))[-1] == ("kpi.breached", "new")


async def test_a_broken_series_does_not_stop_the_pass_for_other_tenants(
    app: FastAPI, tenant: Tenant, other_tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    broken = await make_kpi(tenant)
    pending = {"operator": "gt", "critical": 2.5, "pending_for": "PT5M", "window": "PT10M"}
    await tenant.create("/v1/kpis/churn/alert-rules", pending)
    await make_kpi(other_tenant)
    await other_tenant.create("/v1/kpis/churn/alert-rules", pending)
    t0 = now()
    await post(tenant, 3.0, t0)
    await post(other_tenant, 3.0, t0)
    async with app.state.sessionmaker() as session, session.begin():
        # A state this code does not know: its series cannot be evaluated.
        await session.execute(
            text("UPDATE alert_states SET state = 'paused' WHERE kpi_id = :kpi"),
            {"kpi": uuid.UUID(broken["id"])},
        )
    caplog.set_level(logging.INFO, logger="meridian.scheduler")
    SERIES_FAILURES.succeeded()  # a run left by another test would hide this one's start
    assert await evaluate_all(app.state.sessionmaker, t0 + timedelta(minutes=6)) == 1
    assert said(await history(other_tenant)) == [("kpi.breached", "new")]
    assert await history(tenant) == []
    # One traceback for the run of failures (not one a pass), and which series it skipped.
    await evaluate_all(app.state.sessionmaker, t0 + timedelta(minutes=7))
    logged = [r for r in caplog.records if r.name == "meridian.scheduler"]
    assert len([r for r in logged if r.levelno >= logging.ERROR]) == 1
    skipped = [r for r in logged if r.levelno == logging.INFO]
    assert len(skipped) == 2
    assert skipped[0].organization_id == str(tenant.organization_id)  # type: ignore[attr-defined]


async def test_no_data_after_a_breach_resolves_it_and_keys_its_own_episode(
    app: FastAPI, tenant: Tenant
) -> None:
    await make_kpi(tenant)
    await rule(tenant, window="PT1M", no_data_after="PT2M")
    t0 = now()
    await post(tenant, 3.0, t0 - timedelta(seconds=30))
    await evaluate_all(app.state.sessionmaker, t0 + timedelta(minutes=3))
    await post(tenant, 1.0, t0 + timedelta(minutes=4))  # ahead of the clock, within its skew
    await evaluate_all(app.state.sessionmaker, t0 + timedelta(minutes=4))
    events = list(reversed(await history(tenant)))
    assert said(events[::-1]) == [
        ("kpi.breached", "new"),
        ("kpi.recovered", "no_data"),
        ("kpi.no_data", "no_data"),
        ("kpi.data_resumed", "resumed"),
    ]
    breach, ended, silent, resumed = (e["body"]["data"] for e in events)
    fingerprint = breach["fingerprint"]
    assert breach["dedup_key"] == ended["dedup_key"] == fingerprint
    assert silent["dedup_key"] == resumed["dedup_key"] == fingerprint + ":no_data"
    assert breach["alert_id"] == ended["alert_id"] != silent["alert_id"] == resumed["alert_id"]
    assert [e["sequence"] for e in (breach, ended, silent, resumed)] == [1, 2, 3, 4]


async def test_deleting_a_firing_kpi_resolves_its_alerts(app: FastAPI, tenant: Tenant) -> None:
    await make_kpi(tenant)
    await rule(tenant)
    await post(tenant, 3.0)
    [breached] = await history(tenant)
    assert (await tenant.delete("/v1/kpis/churn")).status_code == 204
    events = await stored_events(app)
    assert said(events[::-1]) == [("kpi.breached", "new"), ("kpi.recovered", "rule_changed")]
    assert events[1]["body"]["data"]["alert_id"] == breached["body"]["data"]["alert_id"]
    assert events[1]["suppressed_reason"] is None


async def test_deleting_a_firing_kpi_over_graphql_resolves_its_alerts(
    app: FastAPI, tenant: Tenant
) -> None:
    kpi = await make_kpi(tenant, target=2.5, direction="lower_is_better")  # its default rule
    await post(tenant, 3.0)
    got = await mutate(tenant, DELETE_KPI, ref="churn")
    assert got == {"__typename": "DeleteKpiPayload", "id": kpi["id"]}
    events = await stored_events(app)
    assert said(events[::-1]) == [("kpi.breached", "new"), ("kpi.recovered", "rule_changed")]


async def stored_events(app: FastAPI) -> list[dict[str, Any]]:
    """Every event in the outbox, oldest first, as history items (the KPI and its history
    route are gone once it is deleted; its events stay)."""
    async with app.state.sessionmaker() as session:
        rows = (await session.scalars(select(Event).order_by(Event.sequence))).all()
    return [
        {"type": e.type, "body": json.loads(e.body), "suppressed_reason": e.suppressed_reason}
        for e in rows
    ]


async def test_history_keeps_the_events_of_deleted_rules(tenant: Tenant) -> None:
    await make_kpi(tenant)
    created = await rule(tenant)
    await post(tenant, 3.0)
    assert (await tenant.delete(f"/v1/kpis/churn/alert-rules/{created['id']}")).status_code == 204
    assert said(await history(tenant)) == [
        ("kpi.breached", "new"),
        ("kpi.recovered", "rule_changed"),
    ]


async def test_history_keeps_the_default_rules_events_when_the_target_is_cleared(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    await make_kpi(tenant, target=2.5, direction="lower_is_better")
    await post(tenant, 3.0)
    cleared = await tenant.patch("/v1/kpis/churn", json={"target": None})
    assert cleared.status_code == 200, cleared.text
    assert (await tenant.get("/v1/kpis/churn/alert-rules")).json() == []
    assert said(await history(tenant)) == [
        ("kpi.breached", "new"),
        ("kpi.recovered", "rule_changed"),
    ]
    # Another organization's KPI of the same key sees none of it.
    await make_kpi(other_tenant)
    assert await history(other_tenant) == []


async def test_history_pages_through_a_kpis_events_only(tenant: Tenant) -> None:
    await make_kpi(tenant)
    await rule(tenant)
    await tenant.create("/v1/kpis", {"key": "nps", "name": "NPS"})
    await tenant.create("/v1/kpis/nps/alert-rules", {"operator": "gt", "critical": 1})
    for value in (3.0, 1.0, 3.0):
        await post(tenant, value)
        reading = {"value": value, "observed_at": iso(now())}
        assert (await tenant.post("/v1/kpis/nps/readings", json=reading)).status_code == 201
    first = await tenant.get("/v1/kpis/churn/alert-history", params={"limit": 2})
    page = first.json()
    rest = await tenant.get(
        "/v1/kpis/churn/alert-history", params={"limit": 2, "cursor": page["next_cursor"]}
    )
    events = page["items"] + rest.json()["items"]
    assert rest.json()["next_cursor"] is None
    assert [e["body"]["data"]["kpi"]["key"] for e in events] == ["churn"] * 3
    assert said(events) == [
        ("kpi.breached", "new"),
        ("kpi.recovered", "resolved"),
        ("kpi.breached", "new"),
    ]
