"""Scheduled evaluation: windows, pending_for, keep_firing_for, no data and re-notification
need time to pass, not readings to arrive. Any number of schedulers may run: each series is
evaluated under ``FOR UPDATE SKIP LOCKED``, so they share the work instead of repeating it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.common.failure_runs import FailureRun, every
from service.kpis import rules_repository
from service.kpis.evaluator import evaluate_rules
from service.models.base import utcnow

logger = logging.getLogger("meridian.scheduler")
BATCH = 200


async def evaluate_all(
    sessions: async_sessionmaker[AsyncSession], now: datetime | None = None
) -> int:
    """One pass over every enabled rule; each batch commits on its own."""
    emitted = 0
    after = None
    while True:
        async with sessions() as session:
            pairs = await rules_repository.all_enabled_rule_ids(session, after, BATCH)
        if not pairs:
            return emitted
        after = pairs[-1][1]
        async with sessions() as session, session.begin():
            rules = await rules_repository.rules_by_id(session, [rule for _, rule in pairs])
            emitted += await evaluate_rules(session, rules, now or utcnow(), skip_locked=True)


async def run_scheduler(
    sessions: async_sessionmaker[AsyncSession], interval: float, stop: asyncio.Event
) -> None:
    logger.info("scheduled evaluation started", extra={"interval_seconds": interval})

    def report(emitted: int) -> None:
        if emitted:
            logger.info("scheduled evaluation", extra={"events": emitted})

    failures = FailureRun(logger, "scheduled evaluation")
    await every(interval, stop, lambda: evaluate_all(sessions), failures, report)
