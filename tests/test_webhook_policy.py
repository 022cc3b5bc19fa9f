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


def test_retry_after_moves_the_retry_within_once_to_twice_the_scheduled_delay() -> None:
    """§4.4: Retry-After is clamped to [scheduled, 2 x scheduled] (Svix's rule), so a receiver
    can push a retry later but neither sooner nor past double the schedule."""
    assert run(Result(500, retry_after="8")).next_attempt_at == NOW + timedelta(seconds=8)
    assert run(Result(500, retry_after="1")).next_attempt_at == NOW + timedelta(seconds=5)
    assert run(Result(500, retry_after="3600")).next_attempt_at == NOW + timedelta(seconds=10)
    dated = run(Result(500, retry_after="Mon, 23 Nov 2026 12:05:00 GMT"), retry_index=1)
    assert dated.next_attempt_at == NOW + timedelta(minutes=5)
    later = run(Result(500, retry_after="Mon, 23 Nov 2026 12:08:00 GMT"), retry_index=1)
    assert later.next_attempt_at == NOW + timedelta(minutes=8)
    assert retry_after_delay("soon", NOW) is None


@pytest.mark.parametrize("result", [Result(429), Result(502), Result(503), Result(504)])
def test_overloaded_receivers_wait_at_least_the_penalty(result: Result) -> None:
    assert run(result).next_attempt_at == NOW + timedelta(seconds=60)
    assert run(result, retry_index=1).next_attempt_at == NOW + timedelta(seconds=300)


def test_a_timeout_waits_at_least_the_penalty_and_other_failures_do_not() -> None:
    assert run(Result(None, "timeout")).next_attempt_at == NOW + timedelta(seconds=60)
    for calm in (Result(500), Result(None, "connect"), Result(None, "tls"), Result(404)):
        assert run(calm).next_attempt_at == NOW + timedelta(seconds=5)


def test_retry_after_on_an_overloaded_receiver_is_clamped_to_the_penalty_and_its_double() -> None:
    assert run(Result(429, retry_after="120")).next_attempt_at == NOW + timedelta(seconds=120)
    assert run(Result(503, retry_after="1")).next_attempt_at == NOW + timedelta(seconds=60)
    assert run(Result(429, retry_after=str(10**9))).next_attempt_at == NOW + timedelta(seconds=120)
    dated = run(Result(503, retry_after="Mon, 23 Nov 2026 12:10:00 GMT"))
    assert dated.next_attempt_at == NOW + timedelta(seconds=120)


def test_jitter_never_brings_an_overloaded_retry_under_the_penalty() -> None:
    rng = random.Random(11)
    delays = [
        (
            decide(
                Result(429), trigger="scheduled", retry_index=0, schedule=SCHEDULE, now=NOW, rng=rng
            ).next_attempt_at
            or NOW
        )
        - NOW
        for _ in range(500)
    ]
    seconds = [d.total_seconds() for d in delays]
    assert min(seconds) == 60 and max(seconds) <= 72
    assert max(seconds) > 65  # it still spreads above the floor


def test_the_penalty_is_the_deployments_to_shorten() -> None:
    decision = decide(
        Result(503),
        trigger="scheduled",
        retry_index=0,
        schedule=(0.2,),
        now=NOW,
        jitter=0,
        overload_penalty=1.5,
    )
    assert decision.next_attempt_at == NOW + timedelta(seconds=1.5)


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


@pytest.mark.parametrize(
    "value",
    [
        "9" * 20,  # timedelta(seconds=int(...)) overflowed
        "9" * 5000,  # int() refuses more than 4,300 digits
        "²",  # str.isdigit() says yes, int() says no
        "١٢٠",  # Arabic-Indic digits: not delay-seconds
        "-5",
        "1.5",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "Mon, 23 Nov 99999 12:00:00 GMT",
        "Mon, 31 Feb 2026 12:00:00 GMT",
        "\x00",
        "x" * 10_000,
    ],
)
def test_no_retry_after_a_receiver_sends_can_raise(value: str) -> None:
    """The receiver writes this header: whatever it says, the decision is made and the retry
    lands within [penalty, 2 x penalty] for a 503."""
    decision = run(Result(503, retry_after=value))
    assert decision.outcome == "retrying" and decision.next_attempt_at is not None
    assert timedelta(seconds=60) <= decision.next_attempt_at - NOW <= timedelta(seconds=120)
    retry_after_delay(value, NOW)
