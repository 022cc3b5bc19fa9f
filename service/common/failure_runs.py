"""How a background loop that retries (the webhook dispatcher, scheduled evaluation) logs
a run of failures.

A loop that polls every second logged a traceback per poll while PostgreSQL was down: a
one-minute outage was 60 errors, and an alert on error lines fired 60 times. Now a run of
failures is logged as it unfolds: its first failure at ERROR with the traceback; the same
failure again only as a WARNING reminder, at most once per ``remind_every`` seconds, with
how long and how often it has failed; a failure of another kind at ERROR again; and the
first success after failures at INFO, with the run's length and attempts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

REMIND_EVERY = 60.0


class FailureRun:
    """The failures of one loop since its last success."""

    def __init__(
        self,
        logger: logging.Logger,
        activity: str,
        remind_every: float = REMIND_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.activity = activity
        self.remind_every = remind_every
        self.clock = clock
        self.started: float | None = None  # when the run began; None when succeeding
        self.attempts = 0
        self._kind: type[BaseException] | None = None
        self._reminded = 0.0

    def failed(self, error: BaseException) -> None:
        """Count a failed attempt; log it if it starts the run or is of a new kind, or
        remind that the run goes on."""
        now = self.clock()
        if self.started is None:
            self.started, self.attempts = now, 0
        self.attempts += 1
        if type(error) is not self._kind:
            self._kind, self._reminded = type(error), now
            self.logger.error(
                "%s failed; retrying",
                self.activity,
                exc_info=error,
                extra={
                    "attempts": self.attempts,
                    "failing_for_seconds": round(now - self.started, 1),
                },
            )
        elif now - self._reminded >= self.remind_every:
            self._reminded = now
            self.logger.warning(
                "%s still failing; retrying",
                self.activity,
                extra={
                    "attempts": self.attempts,
                    "failing_for_seconds": round(now - self.started, 1),
                    "error": f"{type(error).__name__}: {error}",
                },
            )

    def succeeded(self) -> None:
        """End the run, if there is one, saying how long it lasted."""
        if self.started is None:
            return
        now = self.clock()
        self.logger.info(
            "%s recovered",
            self.activity,
            extra={"attempts": self.attempts, "failed_for_seconds": round(now - self.started, 1)},
        )
        self.started, self.attempts, self._kind = None, 0, None


async def every(
    interval: float,
    stop: asyncio.Event,
    work: Callable[[], Awaitable[T]],
    failures: FailureRun,
    report: Callable[[T], None],
) -> None:
    """Run ``work`` every ``interval`` seconds until ``stop``: its result to ``report``, a
    failure (a bug or an outage) to ``failures``, and retried at the next interval."""
    while not stop.is_set():
        try:
            result = await work()
        except Exception as error:
            failures.failed(error)
        else:
            failures.succeeded()
            report(result)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
