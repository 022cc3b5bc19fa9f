"""What an attempt's outcome means for the message and its endpoint: pure functions (§4.4).

Only 2xx succeeds. Redirects are failures and are never followed. 410 and a receiver's
``webhook-delivery: disable`` disable the endpoint; ``webhook-delivery: abort-message`` and an
SSRF block end the message; everything else retries on the schedule. An overloaded receiver
(429, 502, 503, 504 or a timeout) waits at least the overload penalty, and a receiver's
``Retry-After`` moves the retry within [scheduled, 2 * scheduled] (``retry_delay``).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from service.webhooks.retry_after import retry_after_delay

THROTTLE_STATUSES = frozenset({429, 502, 503, 504})
OVERLOAD_PENALTY_SECONDS = 60.0
"""The least delay after a throttling answer or a timeout (Svix's ``OVERLOAD_PENALTY_SECS``):
the schedule's early retries (5 s) would only add to the receiver's load."""


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
    overload_penalty: float = OVERLOAD_PENALTY_SECONDS,
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
    delay = retry_delay(
        result,
        schedule[retry_index],
        now,
        jitter=jitter,
        rng=rng,
        overload_penalty=overload_penalty,
    )
    return Decision("retrying", next_attempt_at=now + delay)


def retry_delay(
    result: Result,
    scheduled: float,
    now: datetime,
    *,
    jitter: float,
    overload_penalty: float,
    rng: random.Random | None = None,
) -> timedelta:
    """The delay before the next attempt (§4.4):

    1. the scheduled delay, at least ``overload_penalty`` when the receiver is overloaded
       (429, 502, 503, 504, or a timeout);
    2. times a uniform jitter factor in [1 - jitter, 1 + jitter], so retries spread out, but
       never under the penalty when overloaded;
    3. the receiver's ``Retry-After`` (delay-seconds or an HTTP-date), clamped to
       [delay, 2 * delay]: it can move the retry later, never earlier, and no more than
       double it.

    Jitter comes before ``Retry-After``, unlike Svix (after), so that a retry is never sent
    before the time the receiver asked for when that time is within the clamp.
    """
    overloaded = result.status in THROTTLE_STATUSES or result.error_class == "timeout"
    seconds = max(scheduled, overload_penalty) if overloaded else scheduled
    if jitter:
        seconds *= 1 + (rng or random).uniform(-jitter, jitter)
    if overloaded:
        seconds = max(seconds, overload_penalty)
    delay = timedelta(seconds=seconds)
    asked = retry_after_delay(result.retry_after, now)
    if asked is None:
        return delay
    return min(max(asked, delay), 2 * delay)


def should_auto_disable(failing_since: datetime | None, now: datetime, after: timedelta) -> bool:
    """Disable only after ``after`` of continuous failure; any success resets the clock."""
    return failing_since is not None and now - failing_since >= after
