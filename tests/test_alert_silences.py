"""Silences (``muted_until``) against the database: muting is not a rule edit, a breach a
silence kept from consumers is told once it ends (spec §2.6.12), and a silence never
suppresses the end of an episode a consumer was told of."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI

from service.kpis.scheduler import evaluate_all
from tests.conftest import Tenant
from tests.test_alerts import history, iso, make_kpi, now, post, rule
from tests.test_graphql_kpis import UPDATE_RULE
from tests.test_graphql_mutations import mutate


def told(events: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    """(type, notification_reason, suppressed_reason) of history items, oldest first."""
    return [
        (e["type"], e["body"]["data"]["notification_reason"], e["suppressed_reason"])
        for e in reversed(events)
    ]


async def alert(tenant: Tenant) -> dict[str, Any]:
    [only] = (await tenant.get("/v1/alerts")).json()["items"]
    return dict(only)


async def mute(tenant: Tenant, rule_id: str, until: datetime | None) -> dict[str, Any]:
    url = f"/v1/kpis/churn/alert-rules/{rule_id}"
    response = await tenant.patch(url, json={"muted_until": None if until is None else iso(until)})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_breach_that_began_while_muted_is_told_when_the_mute_ends(
    app: FastAPI, tenant: Tenant
) -> None:
    t0 = now()
    await make_kpi(tenant)
    await rule(tenant, window="PT1H", muted_until=iso(t0 + timedelta(minutes=10)))
    await post(tenant, 3.0, t0)
    episode = (await alert(tenant))["alert_id"]
    assert await evaluate_all(app.state.sessionmaker, t0 + timedelta(minutes=5)) == 0
    assert await evaluate_all(app.state.sessionmaker, t0 + timedelta(minutes=11)) == 1
    assert await evaluate_all(app.state.sessionmaker, t0 + timedelta(minutes=12)) == 0
    events = await history(tenant)
    assert told(events) == [
        ("kpi.breached", "new", "silence"),
        ("kpi.breached", "unmuted", None),
    ]
    data = events[0]["body"]["data"]
    assert (data["alert_id"], data["severity"], data["state"]) == (episode, "critical", "firing")
    assert data["dedup_key"] == data["fingerprint"] and "suppressed_reason" not in data


async def test_a_no_data_episode_that_began_while_muted_is_told_when_the_mute_ends(
    app: FastAPI, tenant: Tenant
) -> None:
    t0 = now()
    await make_kpi(tenant)
    await rule(
        tenant, window="PT1M", no_data_after="PT2M", muted_until=iso(t0 + timedelta(minutes=10))
    )
    await post(tenant, 1.0, t0)
    await evaluate_all(app.state.sessionmaker, t0 + timedelta(minutes=5))
    await evaluate_all(app.state.sessionmaker, t0 + timedelta(minutes=11))
    events = await history(tenant)
    assert told(events) == [
        ("kpi.no_data", "no_data", "silence"),
        ("kpi.no_data", "unmuted", None),
    ]
    data = events[0]["body"]["data"]
    assert data["dedup_key"] == data["fingerprint"] + ":no_data"


async def test_muting_a_firing_series_keeps_it_firing(tenant: Tenant) -> None:
    await make_kpi(tenant)
    created = await rule(tenant)
    await post(tenant, 3.0)
    before = await alert(tenant)
    muted = await mute(tenant, created["id"], now() + timedelta(hours=1))
    assert muted["version"] == 2  # the resource changed (If-Match); how it judges did not
    assert await alert(tenant) == before
    assert told(await history(tenant)) == [("kpi.breached", "new", None)]


async def test_muting_over_graphql_keeps_the_series(tenant: Tenant) -> None:
    await make_kpi(tenant)
    created = await rule(tenant)
    await post(tenant, 3.0)
    before = await alert(tenant)
    got = await mutate(
        tenant,
        UPDATE_RULE,
        kpi="churn",
        id=created["id"],
        input={"mutedUntil": iso(now() + timedelta(hours=1))},
    )
    assert got["__typename"] == "UpdateAlertRulePayload", got
    assert await alert(tenant) == before
    assert told(await history(tenant)) == [("kpi.breached", "new", None)]


async def test_a_recovery_while_muted_is_told_when_its_breach_was(tenant: Tenant) -> None:
    await make_kpi(tenant)
    created = await rule(tenant)
    await post(tenant, 3.0)
    await mute(tenant, created["id"], now() + timedelta(hours=1))
    await post(tenant, 2.2)  # de-escalation to warning: muted, the incident stays open
    await post(tenant, 1.0)
    assert told(await history(tenant)) == [
        ("kpi.breached", "new", None),
        ("kpi.breached", "deescalated", "silence"),
        ("kpi.recovered", "resolved", None),
    ]
    assert (await alert(tenant))["state"] == "ok"


async def test_a_recovery_while_muted_stays_muted_when_its_breach_was(tenant: Tenant) -> None:
    await make_kpi(tenant)
    await rule(tenant, muted_until=iso(now() + timedelta(hours=1)))
    await post(tenant, 3.0)
    await post(tenant, 1.0)
    assert told(await history(tenant)) == [
        ("kpi.breached", "new", "silence"),
        ("kpi.recovered", "resolved", "silence"),
    ]


async def test_ending_a_mute_tells_the_breach_it_kept(tenant: Tenant) -> None:
    await make_kpi(tenant)
    created = await rule(tenant, muted_until=iso(now() + timedelta(hours=1)))
    await post(tenant, 3.0)
    episode = (await alert(tenant))["alert_id"]
    await mute(tenant, created["id"], None)
    events = await history(tenant)
    assert told(events) == [
        ("kpi.breached", "new", "silence"),
        ("kpi.breached", "unmuted", None),
    ]
    assert events[0]["body"]["data"]["alert_id"] == episode
    assert (await alert(tenant))["alert_id"] == episode
    await mute(tenant, created["id"], None)  # already over: nothing more to tell
    await post(tenant, 3.1)
    assert len(await history(tenant)) == 2


async def test_clearing_a_mute_that_ran_out_unevaluated_tells_the_breach_it_kept(
    tenant: Tenant,
) -> None:
    """The silence ran out after the series' last evaluation, and a PATCH clears it before
    the next one: the evaluator no longer sees a silence to end, so the PATCH tells."""
    await make_kpi(tenant)
    created = await rule(tenant, muted_until=iso(now() + timedelta(seconds=2)))
    await post(tenant, 3.0)
    await asyncio.sleep(2.2)
    await mute(tenant, created["id"], None)
    assert told(await history(tenant)) == [
        ("kpi.breached", "new", "silence"),
        ("kpi.breached", "unmuted", None),
    ]


async def test_a_mute_set_after_the_breach_was_told_adds_nothing_when_it_ends(
    app: FastAPI, tenant: Tenant
) -> None:
    t0 = now()
    await make_kpi(tenant)
    created = await rule(tenant, window="PT1H")
    await post(tenant, 3.0, t0)
    await mute(tenant, created["id"], t0 + timedelta(minutes=10))
    await evaluate_all(app.state.sessionmaker, t0 + timedelta(minutes=5))
    await evaluate_all(app.state.sessionmaker, t0 + timedelta(minutes=11))
    assert told(await history(tenant)) == [("kpi.breached", "new", None)]
