"""Scheduled evaluation: windows, pending_for, keep_firing_for, no data and re-notification
need time to pass, not readings to arrive. Any number of schedulers may run: each series is
evaluated under ``FOR UPDATE SKIP LOCKED``, so they share the work instead of repeating it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.common.database_errors import connection_lost
from service.common.failure_runs import FailureRun, every
from service.kpis import rules_repository
from service.kpis.evaluator import evaluate_rules
from service.models.base import utcnow

logger = logging.getLogger("meridian.scheduler")
BATCH = 200
# Series that fail alone, across passes: a series broken for good is one logged traceback
# and a reminder a minute (``FailureRun``), not a traceback every pass.
SERIES_FAILURES = FailureRun(logger, "evaluating an alert series")


async def evaluate_all(
    sessions: async_sessionmaker[AsyncSession], now: datetime | None = None
) -> int:
    """One pass over every enabled rule; each batch commits on its own.

    A batch that fails is evaluated again series by series, and a series that fails alone
    is logged and left for the next pass: one bad series (a bug, a row that breaks a
    constraint) must not hold back the others, other tenants' included. An outage stops
    the pass instead (the loop logs it once and retries)."""
    emitted = 0
    after = None
    while True:
        async with sessions() as session:
            pairs = await rules_repository.all_enabled_rule_ids(session, after, BATCH)
        if not pairs:
            return emitted
        after = pairs[-1][1]
        at = now or utcnow()
        try:
            emitted += await _evaluate(sessions, [rule for _, rule in pairs], at)
        except Exception as exc:
            if _outage(exc):
                raise
            emitted += await _evaluate_each(sessions, pairs, at)


async def _evaluate(
    sessions: async_sessionmaker[AsyncSession], rule_ids: list[uuid.UUID], now: datetime
) -> int:
    async with sessions() as session, session.begin():
        rules = await rules_repository.rules_by_id(session, rule_ids)
        return await evaluate_rules(session, rules, now, skip_locked=True)


async def _evaluate_each(
    sessions: async_sessionmaker[AsyncSession],
    pairs: list[tuple[uuid.UUID, uuid.UUID]],
    now: datetime,
) -> int:
    emitted = 0
    failed = False
    for organization_id, rule_id in pairs:
        try:
            emitted += await _evaluate(sessions, [rule_id], now)
        except Exception as exc:
            if _outage(exc):
                raise
            failed = True
            SERIES_FAILURES.failed(exc)
            logger.info(
                "alert series skipped until the next pass",
                extra={"rule_id": str(rule_id), "organization_id": str(organization_id)},
            )
    if not failed:
        SERIES_FAILURES.succeeded()
    return emitted


def _outage(exc: Exception) -> bool:
    """The database failed, not one series: every other series would fail the same way."""
    return (
        bool(getattr(exc, "connection_invalidated", False))
        or connection_lost(exc)
        or isinstance(exc, OperationalError | InterfaceError)
    )


async def run_scheduler(
    sessions: async_sessionmaker[AsyncSession], interval: float, stop: asyncio.Event
) -> None:
    logger.info("scheduled evaluation started", extra={"interval_seconds": interval})

    def report(emitted: int) -> None:
        if emitted:
            logger.info("scheduled evaluation", extra={"events": emitted})

    failures = FailureRun(logger, "scheduled evaluation")
    await every(interval, stop, lambda: evaluate_all(sessions), failures, report)
