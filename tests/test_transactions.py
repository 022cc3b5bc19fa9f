"""What each kind of request sends PostgreSQL: reads in autocommit, writes in a transaction,
and no round trip spent checking a pooled connection that is still open."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event

from tests.conftest import Tenant


@contextmanager
def statements_sent(app: FastAPI, pool: str = "engine") -> Iterator[list[str]]:
    """Every statement the app's pooled connections (of ``app.state.<pool>``) send while
    the block runs: asyncpg logs what goes to the connection itself (BEGIN, COMMIT, raw
    statements), SQLAlchemy what it runs as prepared statements."""
    sent: list[str] = []
    engine = getattr(app.state, pool).sync_engine
    attached: list[Any] = []

    def log(record: Any) -> None:
        sent.append(" ".join(record.query.split()).upper().rstrip(";"))

    def log_orm(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(" ".join(statement.split()).upper())

    def attach(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        driver = dbapi_connection.driver_connection
        driver.add_query_logger(log)
        attached.append(driver)

    event.listen(engine, "checkout", attach)
    event.listen(engine, "before_cursor_execute", log_orm)
    try:
        yield sent
    finally:
        event.remove(engine, "checkout", attach)
        event.remove(engine, "before_cursor_execute", log_orm)
        for driver in attached:
            driver.remove_query_logger(log)


async def test_a_read_sends_its_queries_alone(
    app: FastAPI, tenant: Tenant, cycle: dict[str, Any]
) -> None:
    await tenant.get(f"/v1/cycles/{cycle['id']}")  # warm: statements prepared
    with statements_sent(app) as sent:
        answered = await tenant.get(f"/v1/cycles/{cycle['id']}")
    assert answered.status_code == 200
    assert len(sent) == 2, sent  # the API key, the cycle
    assert not any(s.startswith(("BEGIN", "COMMIT", "ROLLBACK", ";")) for s in sent), sent


async def test_a_tree_read_sends_its_queries_alone(
    app: FastAPI, tenant: Tenant, objective: dict[str, Any]
) -> None:
    with statements_sent(app) as sent:
        answered = await tenant.get(f"/v1/objectives/{objective['id']}/tree")
    assert answered.status_code == 200
    assert len(sent) == 2, sent  # the API key, the tree
    assert not any(s.startswith(("BEGIN", "COMMIT", "SELECT 1", ";")) for s in sent), sent


async def test_a_write_runs_in_one_transaction(app: FastAPI, tenant: Tenant) -> None:
    body = {"name": "Q1", "start_date": "2027-01-01", "end_date": "2027-03-31"}
    with statements_sent(app) as sent:
        answered = await tenant.post("/v1/cycles", json=body)
    assert answered.status_code == 201
    # SQLAlchemy logs a statement before its adapter opens the transaction for it.
    assert sent.count("BEGIN") == 1 and sent[-1] == "COMMIT", sent


async def test_a_readings_batch_is_read_alone_and_stored_in_one_round(
    app: FastAPI, tenant: Tenant
) -> None:
    await tenant.create("/v1/kpis", {"key": "nps", "name": "NPS", "target": 50})
    readings = [
        {"kpi": "nps", "value": 40.0, "observed_at": "2026-11-20T09:00:00Z"},
        {"kpi": "nps", "value": 60.0, "observed_at": "2026-11-20T10:00:00Z"},
    ]
    body = {"readings": readings}
    with statements_sent(app) as sent, statements_sent(app, "rounds_engine") as stored:
        answered = await tenant.post("/v1/readings", json=body)
    assert answered.status_code == 200 and answered.json()["created"] == 2
    # The request only looks up its key and KPIs; the group commit stores the readings.
    assert len(sent) == 2 and not any(s.startswith(("BEGIN", "COMMIT")) for s in sent), sent
    assert stored[0] == "BEGIN" and stored[-1] == "COMMIT", stored
    assert stored.count("BEGIN") == 1 and "SELECT 1" not in stored, stored
    # Copied (asyncpg does not log a COPY), not inserted.
    assert not any(s.startswith("WITH INPUT AS") for s in stored), stored


async def test_a_keyed_readings_batch_runs_in_the_requests_transaction(
    app: FastAPI, tenant: Tenant
) -> None:
    await tenant.create("/v1/kpis", {"key": "nps", "name": "NPS"})
    body = {"readings": [{"kpi": "nps", "value": 40.0}]}
    with statements_sent(app) as sent, statements_sent(app, "rounds_engine") as stored:
        answered = await tenant.post("/v1/readings", json=body, headers={"Idempotency-Key": "a"})
    assert answered.status_code == 200 and answered.json()["created"] == 1
    assert stored == []
    assert sent.count("BEGIN") == 1 and sent[-1] == "COMMIT", sent
    # Inserted: a COPY would fail the transaction, idempotency record and all, on a repeat.
    assert any(s.startswith("WITH INPUT AS") for s in sent), sent


async def test_a_batch_sent_again_is_copied_then_inserted(app: FastAPI, tenant: Tenant) -> None:
    await tenant.create("/v1/kpis", {"key": "nps", "name": "NPS"})
    old = {"kpi": "nps", "value": 40.0, "observed_at": "2026-11-20T09:00:00Z"}
    new = {"kpi": "nps", "value": 60.0, "observed_at": "2026-11-20T10:00:00Z"}
    assert (await tenant.post("/v1/readings", json={"readings": [old]})).json()["created"] == 1
    with statements_sent(app, "rounds_engine") as stored:
        answered = await tenant.post("/v1/readings", json={"readings": [old, new]})
    body = answered.json()
    assert [r["status"] for r in body["results"]] == ["duplicate", "created"]
    # The copy failed on the repeat and was rolled back; the insert went in a new one.
    assert stored.count("BEGIN") == 2 and stored.count("COMMIT") == 1, stored
    assert sum(s.startswith("WITH INPUT AS") for s in stored) == 1, stored
