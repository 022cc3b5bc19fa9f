"""Reading a receiver's Retry-After strictly (RFC 9110): delay-seconds or an HTTP-date in
one of its three forms, anything else ignored, everything bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.webhooks.retry_after import LONGEST, parse_http_date, retry_after_delay

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("0", 0), ("120", 120), (" 120 ", 120), ("\t7", 7), ("000042", 42)],
)
def test_delay_seconds(value: str, seconds: int) -> None:
    assert retry_after_delay(value, NOW) == timedelta(seconds=seconds)


@pytest.mark.parametrize("value", ["9" * 13, "9" * 20, "9" * 5000, str(10**9)])
def test_long_delays_are_read_as_the_longest(value: str) -> None:
    assert retry_after_delay(value, NOW) == LONGEST


@pytest.mark.parametrize(
    "value",
    [None, "", "  ", "²", "١٢٠", "12a", "-5", "+5", "1.5", "1e3", "0x10", "12 34", "soon"],
)
def test_anything_else_is_ignored(value: str | None) -> None:
    assert retry_after_delay(value, NOW) is None


@pytest.mark.parametrize(
    "value",
    [
        "Mon, 23 Nov 2026 12:10:00 GMT",  # IMF-fixdate
        "Monday, 23-Nov-26 12:10:00 GMT",  # rfc850-date
        "Mon Nov 23 12:10:00 2026",  # asctime-date
    ],
)
def test_the_three_http_date_forms(value: str) -> None:
    assert retry_after_delay(value, NOW) == timedelta(minutes=10)


def test_an_asctime_day_may_be_padded_with_a_space_and_past_dates_mean_now() -> None:
    assert parse_http_date("Sun Nov  6 08:49:37 1994", NOW) == datetime(
        1994, 11, 6, 8, 49, 37, tzinfo=UTC
    )
    assert retry_after_delay("Sun Nov  6 08:49:37 1994", NOW) == timedelta(0)


def test_a_two_digit_year_is_never_more_than_fifty_years_ahead() -> None:
    assert parse_http_date("Monday, 23-Nov-76 12:00:00 GMT", NOW) == datetime(
        2076, 11, 23, 12, tzinfo=UTC
    )
    assert parse_http_date("Tuesday, 23-Nov-77 12:00:00 GMT", NOW) == datetime(
        1977, 11, 23, 12, tzinfo=UTC
    )


def test_a_leap_second_reads_as_the_second_before_and_far_dates_as_the_longest() -> None:
    assert retry_after_delay("Mon, 23 Nov 2026 12:10:60 GMT", NOW) == timedelta(seconds=659)
    assert retry_after_delay("Fri, 31 Dec 9999 23:59:59 GMT", NOW) == LONGEST


@pytest.mark.parametrize(
    "value",
    [
        "Mon, 31 Feb 2026 12:00:00 GMT",  # no such day
        "Mon, 23 Nov 2026 25:00:00 GMT",  # no such hour
        "Mon, 23 Nov 0000 12:00:00 GMT",  # no year 0
        "Mon, 23 Nov 99999 12:00:00 GMT",
        "mon, 23 nov 2026 12:10:00 gmt",  # names are case-sensitive
        "Mon, 23 Nov 2026 12:10:00 +0000",  # RFC 5322, not an HTTP-date
        "Mon, 23 Nov 2026 12:10 GMT",
        "Mon, 23 Nov 2026 12:10:00 GMT extra",
        "Mon, \uff12\uff13 Nov 2026 12:10:00 GMT",  # fullwidth digits
    ],
)
def test_malformed_dates_are_ignored(value: str) -> None:
    assert retry_after_delay(value, NOW) is None
