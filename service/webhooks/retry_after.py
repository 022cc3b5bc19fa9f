"""A receiver's ``Retry-After`` header (RFC 9110 §10.2.3) as a delay: pure functions.

The receiver writes this header, so reading it must never raise: a value that is not exactly
delay-seconds or an HTTP-date is ignored, and a readable one is bounded before it becomes a
``timedelta`` (``int("9" * 20)`` seconds overflowed ``timedelta``, and ``str.isdigit`` let
``"²"`` through to an ``int()`` that refused it).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

LONGEST = timedelta(days=365)
"""Any longer request is read as this: it keeps the arithmetic finite (the retry policy
clamps far lower)."""

# re.ASCII: \d would also match other scripts' digits.
_DELAY_SECONDS = re.compile(r"\d+", re.ASCII)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH = "(?P<month>" + "|".join(_MONTHS) + ")"
_TIME = r"(?P<hour>\d\d):(?P<minute>\d\d):(?P<second>\d\d)"
# The three forms a recipient must accept (RFC 9110 §5.6.7); names are case-sensitive.
_IMF_FIXDATE = re.compile(
    rf"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (?P<day>\d\d) {_MONTH} (?P<year>\d{{4}}) {_TIME} GMT",
    re.ASCII,
)
_RFC850_DATE = re.compile(
    r"(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), "
    rf"(?P<day>\d\d)-{_MONTH}-(?P<year2>\d\d) {_TIME} GMT",
    re.ASCII,
)
_ASCTIME_DATE = re.compile(
    rf"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) {_MONTH} (?P<day>[ \d]\d) {_TIME} (?P<year>\d{{4}})",
    re.ASCII,
)


def retry_after_delay(value: str | None, now: datetime) -> timedelta | None:
    """How long the receiver asks us to wait, at most ``LONGEST``; None when it does not ask
    or the value is not delay-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip(" \t")
    if _DELAY_SECONDS.fullmatch(value):
        # Twelve digits are already more than a year: int() never sees a huge number.
        seconds = int(value) if len(value) <= 12 else int(LONGEST.total_seconds())
        return min(timedelta(seconds=seconds), LONGEST)
    moment = parse_http_date(value, now)
    if moment is None:
        return None
    return min(max(moment - now, timedelta(0)), LONGEST)


def parse_http_date(value: str, now: datetime) -> datetime | None:
    """An HTTP-date in any of its three forms, or None. ``now`` places rfc850-date's
    two-digit year: never more than 50 years ahead (RFC 9110 §5.6.7)."""
    for pattern in (_IMF_FIXDATE, _RFC850_DATE, _ASCTIME_DATE):
        match = pattern.fullmatch(value)
        if match is not None:
            break
    else:
        return None
    fields = match.groupdict()
    if fields.get("year2") is not None:
        year = now.year - now.year % 100 + int(fields["year2"])
        if year > now.year + 50:
            year -= 100
    else:
        year = int(fields["year"])
    try:
        return datetime(
            year,
            _MONTHS.index(fields["month"]) + 1,
            int(fields["day"]),
            int(fields["hour"]),
            int(fields["minute"]),
            min(int(fields["second"]), 59),  # 60 is a leap second
            tzinfo=UTC,
        )
    except ValueError:  # 31 February, hour 25, year 0000 ...
        return None
