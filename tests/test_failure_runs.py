"""Background loops log a run of failures once, remind while it lasts, and say when it ends:
the rules (``common/failure_runs.py``), then the webhook dispatcher and the scheduler
against a database that refuses them and one that cuts their connections."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from service.common.failure_runs import FailureRun
from service.kpis.scheduler import run_scheduler
from service.webhooks.dispatcher import Dispatcher, DispatcherConfig, run_dispatcher

LOGGER = "meridian.test.failures"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def levels(caplog: pytest.LogCaptureFixture, logger: str) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == logger]


def test_a_run_is_logged_at_its_start_reminded_and_ended(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    clock = Clock()
    run = FailureRun(logging.getLogger(LOGGER), "polling", remind_every=60, clock=clock)

    run.succeeded()  # nothing failed: nothing to say
    for _ in range(30):  # a poll every second for 30 s
        run.failed(OSError("connection refused"))
        clock.now += 1
    assert levels(caplog, LOGGER) == [("ERROR", "polling failed; retrying")]
    first = caplog.records[0]
    assert first.exc_info is not None and first.exc_info[0] is OSError  # the traceback, once

    for _ in range(31):  # past a minute: one reminder, with how long and how often
        run.failed(OSError("connection refused"))
        clock.now += 1
    reminder = caplog.records[-1]
    assert (reminder.levelname, reminder.getMessage()) == (
        "WARNING",
        "polling still failing; retrying",
    )
    assert (reminder.attempts, reminder.failing_for_seconds) == (61, 60.0)  # type: ignore[attr-defined]
    assert reminder.error == "OSError: connection refused"  # type: ignore[attr-defined]

    run.failed(asyncpg.CannotConnectNowError("the database system is starting up"))
    assert caplog.records[-1].levelname == "ERROR"  # another kind of failure: told in full

    clock.now += 4.5
    run.succeeded()
    recovered = caplog.records[-1]
    assert (recovered.levelname, recovered.getMessage()) == ("INFO", "polling recovered")
    assert (recovered.attempts, recovered.failed_for_seconds) == (62, 65.5)  # type: ignore[attr-defined]
    assert len(caplog.records) == 4

    run.succeeded()
    run.failed(OSError("connection refused"))  # a new run starts from scratch
    assert [r.levelname for r in caplog.records[4:]] == ["ERROR"]
    assert caplog.records[-1].attempts == 1  # type: ignore[attr-defined]


def refused_port() -> int:
    """A local port nothing listens on: connections to it are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_a_dispatcher_that_cannot_reach_the_database_logs_one_error(
    dispatcher_config: DispatcherConfig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="meridian.webhooks")
    config = dataclasses.replace(dispatcher_config, poll_interval=0.02)
    dsn = f"postgresql://meridian@127.0.0.1:{refused_port()}/meridian"
    stop = asyncio.Event()
    task = asyncio.create_task(run_dispatcher(dsn, config, stop))
    await asyncio.sleep(0.6)
    stop.set()
    await asyncio.wait_for(task, timeout=10)

    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [(r.levelname, r.getMessage()) for r in problems] == [
        ("ERROR", "webhook dispatch failed; retrying")
    ]
    assert problems[0].exc_info is not None
    attempts = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(attempts) == 1  # while it tried again every 20 ms


async def test_a_dispatcher_through_an_outage_says_so_once_and_recovers(
    database_url: str, dispatcher_config: DispatcherConfig, caplog: pytest.LogCaptureFixture
) -> None:
    """The database stops taking connections and cuts the dispatcher's (an outage as its
    clients see it), then takes them again."""
    caplog.set_level(logging.INFO, logger="meridian.webhooks")
    config = dataclasses.replace(dispatcher_config, poll_interval=0.02)
    url = make_url(database_url)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    # A database cannot refuse connections from a session connected to it.
    admin = await asyncpg.connect(
        url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    )
    database = '"' + str(url.database).replace('"', '""') + '"'

    stop = asyncio.Event()
    try:
        async with Dispatcher(dsn, config) as dispatcher:
            task = asyncio.create_task(dispatcher.run(stop))
            await asyncio.sleep(0.2)
            await admin.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS false")
            cut = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = 'meridian-webhooks' AND datname = $1",
                url.database,
            )
            assert cut >= 1
            await asyncio.sleep(0.5)  # about 25 polls, each refused
            await admin.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS true")
            for _ in range(200):
                await asyncio.sleep(0.05)
                if any(r.getMessage() == "webhook dispatch recovered" for r in caplog.records):
                    break
            stop.set()
            await asyncio.wait_for(task, timeout=10)
    finally:
        await admin.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS true")
        await admin.close()

    said = [r for r in caplog.records if r.name == "meridian.webhooks"]
    assert [r.levelname for r in said if r.levelno >= logging.WARNING] == ["ERROR"]
    recovered = said[-1]
    assert (recovered.levelname, recovered.getMessage()) == ("INFO", "webhook dispatch recovered")
    assert recovered.attempts >= 5  # type: ignore[attr-defined]


async def test_the_scheduler_logs_one_error_while_the_database_refuses_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="meridian.scheduler")
    engine = create_async_engine(
        f"postgresql+asyncpg://meridian@127.0.0.1:{refused_port()}/meridian"
    )
    stop = asyncio.Event()
    try:
        task = asyncio.create_task(run_scheduler(async_sessionmaker(engine), 0.02, stop))
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.wait_for(task, timeout=10)
    finally:
        await engine.dispose()

    problems = [
        (r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.WARNING
    ]
    assert problems == [("ERROR", "scheduled evaluation failed; retrying")]
