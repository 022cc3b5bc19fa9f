"""What an attempt's outcome means for the message and its endpoint: pure functions (§4.4).

Only 2xx succeeds. Redirects are failures and are never followed. 410 and a receiver's
``webhook-delivery: disable`` disable the endpoint; ``webhook-delivery: abort-message`` and an
SSRF block end the message; everything else retries on the schedule, at least as late as the
receiver's ``Retry-After`` asks (within a cap).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER = timedelta(days=1)
THROTTLE_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class Result:
    """What happened on the wire; ``status`` is None when no response came back."""

    status: int | None
    error_class: str | None = None  # timeout, connect, tls, dns, ssrf_blocked, protocol
    retry_after: str | None = None
    delivery_directive: str | None = None  # the receiver's webhook-delivery header

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def failure_class(self) -> str | None:
        if self.succeeded:
            return None
        if self.error_class:
            return self.error_class
        assert self.status is not None
        return "redirect" if 300 <= self.status < 400 else "http_status"


@dataclass(frozen=True)
class Decision:
    outcome: str  # succeeded | retrying | failed
    next_attempt_at: datetime | None = None
    disable_reason: str | None = None  # gone | receiver_requested


def decide(
    result: Result,
    *,
    trigger: str,
    retry_index: int,
    schedule: Sequence[float],
    now: datetime,
    jitter: float = 0.2,
    rng: random.Random | None = None,
) -> Decision:
    if result.succeeded:
        return Decision("succeeded")
    if result.status == 410:
        return Decision("failed", disable_reason="gone")
    directive = (result.delivery_directive or "").strip().lower()
    if directive == "disable":
        return Decision("failed", disable_reason="receiver_requested")
    if directive == "abort-message" or result.error_class == "ssrf_blocked":
        return Decision("failed")
    # A manual redelivery is one attempt: its failure schedules nothing (as Svix does).
    if trigger == "manual" or retry_index >= len(schedule):
        return Decision("failed")
    delay = timedelta(seconds=schedule[retry_index])
    if jitter:
        delay *= 1 + (rng or random).uniform(-jitter, jitter)
    asked = retry_after_delay(result.retry_after, now)
    if asked is not None:
        delay = max(delay, min(asked, MAX_RETRY_AFTER))
    return Decision("retrying", next_attempt_at=now + delay)


def retry_after_delay(value: str | None, now: datetime) -> timedelta | None:
    """``Retry-After`` as delta-seconds or an HTTP-date; anything unreadable is ignored."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(moment - now, timedelta(0))


def should_auto_disable(failing_since: datetime | None, now: datetime, after: timedelta) -> bool:
    """Disable only after ``after`` of continuous failure; any success resets the clock."""
    return failing_since is not None and now - failing_since >= after
