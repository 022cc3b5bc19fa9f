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
def statements_sent(app: FastAPI) -> Iterator[list[str]]:
    """Every statement the app's pooled connections send while the block runs: asyncpg
    logs what goes to the connection itself (BEGIN, COMMIT, raw statements), SQLAlchemy
    what it runs as prepared statements."""
    sent: list[str] = []
    engine = app.state.engine.sync_engine
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
