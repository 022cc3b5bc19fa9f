"""What an attempt's outcome means: pure rules, explicit instants."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from service.webhooks.policy import Result, decide, retry_after_delay, should_auto_disable

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SCHEDULE = (5.0, 300.0, 1800.0)


def run(result: Result, *, trigger: str = "scheduled", retry_index: int = 0, jitter: float = 0):
    return decide(
        result, trigger=trigger, retry_index=retry_index, schedule=SCHEDULE, now=NOW, jitter=jitter
    )


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_2xx_succeeds(status: int) -> None:
    assert run(Result(status)).outcome == "succeeded"


@pytest.mark.parametrize(
    ("result", "failure_class"),
    [
        (Result(301), "redirect"),
        (Result(308), "redirect"),
        (Result(400), "http_status"),
        (Result(500), "http_status"),
        (Result(None, "timeout"), "timeout"),
        (Result(None, "connect"), "connect"),
    ],
)
def test_other_outcomes_retry_on_the_schedule(result: Result, failure_class: str) -> None:
    decision = run(result, retry_index=1)
    assert decision.outcome == "retrying"
    assert decision.next_attempt_at == NOW + timedelta(seconds=300)
    assert result.failure_class == failure_class


def test_the_schedule_runs_out() -> None:
    assert run(Result(500), retry_index=3).outcome == "failed"


def test_410_fails_and_disables() -> None:
    decision = run(Result(410))
    assert (decision.outcome, decision.disable_reason) == ("failed", "gone")


def test_receiver_directives() -> None:
    assert run(Result(500, delivery_directive="abort-message")).outcome == "failed"
    disable = run(Result(503, delivery_directive="Disable"))
    assert disable.disable_reason == "receiver_requested"


def test_ssrf_blocks_are_not_retried() -> None:
    assert run(Result(None, "ssrf_blocked")).outcome == "failed"


def test_a_manual_redelivery_is_one_attempt() -> None:
    assert run(Result(500), trigger="manual").outcome == "failed"
    assert run(Result(500), trigger="recover").outcome == "retrying"


def test_retry_after_seconds_and_http_date_push_the_retry_later_never_earlier() -> None:
    later = run(Result(429, retry_after="120"))
    assert later.next_attempt_at == NOW + timedelta(seconds=120)
    sooner = run(Result(503, retry_after="1"))
    assert sooner.next_attempt_at == NOW + timedelta(seconds=5)
    dated = run(Result(503, retry_after="Mon, 23 Nov 2026 12:10:00 GMT"))
    assert dated.next_attempt_at == NOW + timedelta(minutes=10)
    capped = run(Result(429, retry_after=str(10**9)))
    assert capped.next_attempt_at == NOW + timedelta(days=1)
    assert retry_after_delay("soon", NOW) is None


def test_jitter_stays_within_twenty_percent() -> None:
    rng = random.Random(7)
    delays = [
        decide(
            Result(500), trigger="scheduled", retry_index=1, schedule=SCHEDULE, now=NOW, rng=rng
        ).next_attempt_at
        - NOW
        for _ in range(500)
    ]
    seconds = [d.total_seconds() for d in delays]
    assert min(seconds) >= 240 and max(seconds) <= 360
    assert max(seconds) - min(seconds) > 60  # it does spread


def test_auto_disable_after_continuous_failure_only() -> None:
    after = timedelta(days=5)
    assert not should_auto_disable(None, NOW, after)
    assert not should_auto_disable(NOW - timedelta(days=4), NOW, after)
    assert should_auto_disable(NOW - timedelta(days=5), NOW, after)
