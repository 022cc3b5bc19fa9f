"""Running window aggregates (``kpis/running.py``): moving a kept aggregate forward must give
exactly what reading the whole window gives, with late, future, duplicate and concurrent
readings, readings leaving the window, and the scheduled evaluator in between."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text

from service.kpis.evaluator import evaluate_rules
from service.kpis.readings_repository import (
    NewReading,
    ReadingColumns,
    insert_and_lock,
    insert_only,
    insert_readings,
    lock_and_move,
)
from service.kpis.rules_repository import enabled_rules_of_kpis
from service.kpis.running import EMPTY, Agg, advance, reusable, split_fresh, value_of
from service.kpis.scheduler import evaluate_all
from tests.conftest import Tenant

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def test_advance_adds_and_removes_exactly() -> None:
    kept = Agg.of([1.0, 5.0, 3.0])
    moved = advance(kept, Agg.of([3.0]), Agg.of([2.0, 4.0]), "avg")
    assert moved == Agg(4, 12.0, 1.0, 5.0) == Agg.of([1.0, 5.0, 2.0, 4.0])
    assert value_of(moved, "avg") == 3.0 and value_of(moved, "sum") == 12.0
    assert value_of(moved, "min") == 1.0 and value_of(moved, "max") == 5.0


def test_an_extreme_that_leaves_makes_min_and_max_unknown() -> None:
    kept = Agg.of([1.0, 5.0, 3.0])
    assert advance(kept, Agg.of([1.0]), EMPTY, "min") is None  # the min left: read whole
    moved = advance(kept, Agg.of([1.0]), EMPTY, "avg")
    assert moved is not None and moved.low is None and moved.high == 5.0
    assert advance(kept, Agg.of([3.0]), EMPTY, "min") == Agg(2, 6.0, 1.0, 5.0)
    assert advance(kept, Agg.of([5.0]), EMPTY, "max") is None


def test_everything_leaving_starts_again_from_exact_zeros() -> None:
    kept = Agg.of([0.1, 0.2, 0.3])
    moved = advance(kept, Agg.of([0.1, 0.2, 0.3]), Agg.of([7.0]), "sum")
    assert moved == Agg(1, 7.0, 7.0, 7.0)
    assert advance(kept, kept, EMPTY, "avg") == EMPTY
    assert value_of(EMPTY, "count") == 0.0 and value_of(EMPTY, "avg") is None


def test_a_cancelled_sum_is_read_whole() -> None:
    kept = Agg.of([1e12, 1.0])
    assert advance(kept, Agg.of([1e12]), EMPTY, "avg") is None


def test_a_kept_aggregate_is_reused_only_within_one_window() -> None:
    assert reusable("avg", MINUTE, T0, T0 - timedelta(seconds=59), T0 - MINUTE / 2, MINUTE)
    assert not reusable("avg", MINUTE, T0, T0 - MINUTE, T0 - MINUTE, MINUTE)
    assert not reusable("avg", MINUTE, T0, T0 - MINUTE / 2, T0 - MINUTE, MINUTE)
    assert not reusable("avg", MINUTE, T0, T0, T0, 2 * MINUTE)  # the rule's window changed
    assert not reusable("last", MINUTE, T0, T0, T0, MINUTE)
    assert not reusable("avg", MINUTE, T0, None, None, None)


def test_own_readings_that_the_ranges_get_wrong() -> None:
    at, now = T0, T0 + timedelta(seconds=10)
    fresh = [
        (T0 - timedelta(seconds=55), 1.0),  # left the new window; never counted
        (T0 - timedelta(seconds=30), 2.0),  # late, inside the new window
        (T0 + timedelta(seconds=5), 4.0),  # after `at`: the "entered" range has it
        (T0 - timedelta(seconds=90), 8.0),  # older than both windows
    ]
    assert split_fresh(fresh, at, now, MINUTE) == (Agg.of([1.0]), Agg.of([2.0]))


RULES = ("avg", "sum", "min", "max", "count")


async def _kept_and_true(app: FastAPI) -> list[tuple[str, Any, Any]]:
    """Per rule: its kept aggregate against the whole window at ``agg_at``, read directly.

    Only where the aggregate saw every stored reading (its version is the KPI's): a batch
    whose clock is older than the last evaluation is stored but not evaluated, and the
    next evaluation, seeing the version moved, reads the window whole."""
    async with app.state.sessionmaker() as session:
        rows = (
            await session.execute(
                text(
                    """
                    SELECT r.aggregation, s.agg_samples, s.agg_sum, s.agg_min, s.agg_max,
                           w.n, w.s, w.lo, w.hi, s.agg_at, s.agg_since
                    FROM alert_states AS s JOIN alert_rules AS r ON r.id = s.rule_id
                    JOIN kpi_reading_versions AS k
                      ON k.kpi_id = s.kpi_id AND k.readings_version = s.agg_version
                    CROSS JOIN LATERAL (
                        SELECT count(*) AS n, sum(value) AS s, min(value) AS lo,
                               max(value) AS hi
                        FROM kpi_readings
                        WHERE kpi_id = s.kpi_id AND observed_at > s.agg_at - r."window"
                          AND observed_at <= s.agg_at
                    ) AS w
                    """
                )
            )
        ).all()
    out = []
    for agg, n, total, low, high, true_n, true_s, true_lo, true_hi, at, since in rows:
        assert at is not None and since is not None, agg
        assert n == true_n, (agg, n, true_n)
        if n:
            assert total == true_s, (agg, total, true_s)
            if low is not None:
                assert low == true_lo, (agg, low, true_lo)
            if high is not None:
                assert high == true_hi, (agg, high, true_hi)
            if agg == "min":
                assert low == true_lo
            if agg == "max":
                assert high == true_hi
        out.append((agg, at, since))
    return out


async def _batch(tenant: Tenant, rng: random.Random, base: datetime, size: int) -> None:
    readings = []
    for _ in range(size):
        # Integers keep float sums exact whatever the order of additions.
        offset = timedelta(seconds=rng.randint(-100, 60))
        readings.append(
            {
                "kpi": "churn",
                "value": float(rng.randint(-50, 50)),
                "observed_at": (base + offset).isoformat(),
                "source": rng.choice(["a", "b"]),
            }
        )
    response = await tenant.post("/v1/readings", json={"readings": readings})
    assert response.status_code == 200, response.text


async def test_running_aggregates_match_the_whole_window(app: FastAPI, tenant: Tenant) -> None:
    await tenant.create("/v1/kpis", {"key": "churn", "name": "Churn"})
    for aggregation in RULES:
        body = {"operator": "gt", "critical": 1e9, "aggregation": aggregation, "window": "PT1M"}
        await tenant.create("/v1/kpis/churn/alert-rules", body)
    rng = random.Random(7)
    base = datetime.now(UTC)
    moved = 0
    for _ in range(8):
        # Concurrent batches: late, future (within the clock skew) and repeated readings.
        await asyncio.gather(*[_batch(tenant, rng, base, 40) for _ in range(3)])
        await _kept_and_true(app)
        await _batch(tenant, rng, base, 10)
        kept = await _kept_and_true(app)
        assert {agg for agg, _, _ in kept} == set(RULES)
        moved += sum(1 for _, at, since in kept if at > since)
    assert moved, "no batch moved a kept aggregate forward"
    # The scheduler, later: readings leave the window (maybe an extreme: read whole again).
    for seconds in (20, 35, 50, 75):
        await evaluate_all(
            app.state.sessionmaker, now=datetime.now(UTC) + timedelta(seconds=seconds)
        )
        await _kept_and_true(app)


async def test_a_reading_stored_outside_the_ingest_path_is_not_missed(
    app: FastAPI, tenant: Tenant
) -> None:
    """Another writer moved ``readings_version``: the kept aggregate is read whole."""
    kpi = await tenant.create("/v1/kpis", {"key": "churn", "name": "Churn"})
    body = {"operator": "gt", "warning": 10.0, "critical": 100.0, "aggregation": "sum"}
    await tenant.create("/v1/kpis/churn/alert-rules", body)
    at = datetime.now(UTC)
    first = {"value": 4.0, "observed_at": at.isoformat()}
    assert (await tenant.post("/v1/kpis/churn/readings", json=first)).status_code == 201
    async with app.state.sessionmaker() as session:
        reading = NewReading(uuid.UUID(kpi["id"]), "other", at - timedelta(seconds=1), 9.0)
        await insert_readings(session, tenant.organization_id, [reading])
        await session.commit()
    second = {"value": 1.0, "observed_at": (at - timedelta(seconds=2)).isoformat()}
    assert (await tenant.post("/v1/kpis/churn/readings", json=second)).status_code == 201
    [(_, _, _)] = await _kept_and_true(app)
    [alert] = (await tenant.get("/v1/alerts")).json()["items"]
    assert alert["state"] == "firing" and alert["last_value"] == 14.0  # 4 + 9 + 1: 9 counted


async def test_a_rule_edited_before_its_series_is_locked_is_read_again(
    app: FastAPI, tenant: Tenant
) -> None:
    """Ingest reads the rules before its insert locks their series: an edit committed in
    between (it restarts the series with the rule's new version) must not be missed."""
    kpi = await tenant.create("/v1/kpis", {"key": "churn", "name": "Churn"})
    rule = await tenant.create(
        "/v1/kpis/churn/alert-rules", {"operator": "gt", "critical": 100.0, "aggregation": "max"}
    )
    async with app.state.sessionmaker() as session:
        rules = await enabled_rules_of_kpis(session, tenant.organization_id, [uuid.UUID(kpi["id"])])
        await session.rollback()
    assert [r.version for r in rules] == [1]
    url = f"/v1/kpis/churn/alert-rules/{rule['id']}"
    assert (await tenant.patch(url, json={"critical": 1.0})).status_code == 200
    now = datetime.now(UTC)
    async with app.state.sessionmaker() as session:
        rows = ReadingColumns([uuid.UUID(kpi["id"])], ["a"], [now], [5.0])
        created, locked = await insert_and_lock(
            session, tenant.organization_id, rows, [r.id for r in rules]
        )
        assert created == [0] and locked[rules[0].id].rule_version == 2
        fresh = {rows.kpi_ids[0]: [(now, 5.0)]}
        emitted = await evaluate_rules(session, rules, now, fresh=fresh, locked=locked)
        await session.commit()
    assert emitted == 1  # 5 > 1, the edited threshold (not 100)
    [alert] = (await tenant.get("/v1/alerts")).json()["items"]
    assert alert["state"] == "firing" and alert["last_value"] == 5.0


async def test_a_batch_committed_between_an_insert_and_its_locks_is_counted_once(
    app: FastAPI, tenant: Tenant
) -> None:
    """The insert takes no shared lock: another batch of the same KPI can be stored,
    evaluated and committed between one batch's insert and its locks. The first batch's
    readings are then neither in the other's kept aggregate (not committed) nor missed by
    its own evaluation (late, future and in-window readings alike)."""
    kpi = await tenant.create("/v1/kpis", {"key": "churn", "name": "Churn"})
    kpi_id = uuid.UUID(kpi["id"])
    for aggregation in ("sum", "count", "max"):
        body = {"operator": "gt", "critical": 1e9, "aggregation": aggregation, "window": "PT5M"}
        await tenant.create("/v1/kpis/churn/alert-rules", body)
    at = datetime.now(UTC)
    # A kept aggregate to move forward.
    first = {"value": 1.0, "observed_at": (at - timedelta(seconds=30)).isoformat()}
    assert (await tenant.post("/v1/kpis/churn/readings", json=first)).status_code == 201
    async with app.state.sessionmaker() as session:
        org = tenant.organization_id
        rules = await enabled_rules_of_kpis(session, org, [kpi_id])
        # Late (before the other batch's evaluation), in the window, and from the future.
        mine = [(at - timedelta(seconds=20), 10.0), (at, 100.0), (at + timedelta(minutes=2), 1e4)]
        rows = ReadingColumns(
            [kpi_id] * 3, ["mine"] * 3, [o for o, _ in mine], [v for _, v in mine]
        )
        created, newest = await insert_only(session, org, rows)
        assert created == [0, 1, 2]
        # Another batch goes through whole, without waiting for this transaction.
        other = {
            "readings": [
                {
                    "kpi": "churn",
                    "value": 1000.0,
                    "observed_at": (at - timedelta(seconds=10)).isoformat(),
                }
            ]
        }
        response = await asyncio.wait_for(tenant.post("/v1/readings", json=other), timeout=30)
        assert response.status_code == 200 and response.json()["created"] == 1
        # The other batch did not see these readings (not committed).
        before = {r["aggregation"]: r["value"] for r in await _last_values(app)}
        assert before == {"sum": 1001.0, "count": 2.0, "max": 1000.0}
        locked = await lock_and_move(session, org, newest, [r.id for r in rules])
        now = datetime.now(UTC)
        fresh = {kpi_id: mine}
        await evaluate_rules(session, rules, now, fresh=fresh, locked=locked)
        await session.commit()
    kept = await _kept_and_true(app)
    assert len(kept) == 3
    assert any(at_ > since for _, at_, since in kept), "the kept aggregate was read whole"
    values = {r["aggregation"]: r["value"] for r in await _last_values(app)}
    # 1 + 10 + 100 + 1000: the future reading is not in the window yet.
    assert values == {"sum": 1111.0, "count": 4.0, "max": 1000.0}


async def _last_values(app: FastAPI) -> list[dict[str, Any]]:
    async with app.state.sessionmaker() as session:
        rows = await session.execute(
            text(
                "SELECT r.aggregation, s.last_value FROM alert_states AS s "
                "JOIN alert_rules AS r ON r.id = s.rule_id"
            )
        )
        return [{"aggregation": a, "value": v} for a, v in rows.all()]
