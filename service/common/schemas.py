"""Base schema classes and field types shared by every domain."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Generic, TypeVar

from annotated_types import Ge, Le
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    StrictBool,
    StrictInt,
    StringConstraints,
)


def utc_rfc3339(value: datetime) -> str:
    """An instant as REST and GraphQL write it: RFC 3339 in UTC with `Z`."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def no_control_characters(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and no title or note needs C0 controls but tab/newline.
    # A regex, not a loop over characters: it runs on every reading's `source` too.
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _iso_text(value: Any) -> Any:
    # Pydantic's lax mode would read 0, 1.5 or "1.5" as seconds since 1970: refuse them.
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise ValueError("must be an ISO 8601 date (2026-01-02) or RFC 3339 date-time")


# What the service accepts as a time or a date. Python's datetime ends at years 1 and 9999,
# and the service adds to and subtracts from input times (a rule's window, lateness bound
# or duration, the day after a cycle's last): the range keeps a century below and a year
# above, so no such sum leaves it and every answer about a stored time can be computed.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
_RANGE = "1900-01-01T00:00:00Z to 9998-12-31T23:59:59Z"


def in_accepted_range(value: datetime) -> datetime:
    """The aware ``value`` in UTC, if the service accepts it (``ValueError`` if not: an
    offset can carry a time at Python's limits past them, an ``OverflowError``)."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"must be from {_RANGE}") from None
    if not EARLIEST <= utc < LATEST:
        raise ValueError(f"must be from {_RANGE}")
    return utc


def _date_in_range(value: date) -> date:
    if not EARLIEST.date() <= value < LATEST.date():
        raise ValueError("must be from 1900-01-01 to 9998-12-31")
    return value


# Numbers the service stores and aggregates: sums and averages over windows, buckets and
# roll-ups must stay finite, and every value a client can measure fits well inside.
MAX_MAGNITUDE = 1e18


UtcDateTime = Annotated[datetime, PlainSerializer(utc_rfc3339, return_type=str)]
"""A timestamp always written as RFC 3339 in UTC (``2026-01-02T03:04:05Z``)."""

InputDateTime = Annotated[
    AwareDatetime, BeforeValidator(_iso_text), AfterValidator(in_accepted_range)
]
"""A timestamp accepted only as RFC 3339 text with an offset, from 1900 to 9998,
normalised to UTC."""

InputDate = Annotated[date, BeforeValidator(_iso_text), AfterValidator(_date_in_range)]
"""A calendar date accepted only as ISO 8601 text (``2026-01-02``), from 1900 to 9998."""

# Input scalars take exactly their JSON type. In lax mode pydantic reads `true` as 1.0,
# `"1.5"` as 1.5 and `0` as false, so a client's type error would be stored as a value.
Number = Annotated[float, Strict()]
"""A JSON number (an integer is fine); never a boolean or a string."""
Measure = Annotated[float, Strict(), Ge(-MAX_MAGNITUDE), Le(MAX_MAGNITUDE)]
"""A measured value (a reading, a target, a threshold, a check-in): a ``Number`` of
magnitude at most 1e18. Not ``Number`` itself: a field's own ``Field(le=...)`` does not
override bounds given in its type, and weights or scores have their own."""
Weight = Annotated[float, Strict(), Ge(0.001), Le(1000)]
"""A weight in a weighted mean (a key result's, a link's): 0.001 to 1000. Not merely above
0: a weight like 5e-324 turns ``weight * value`` into 0 or a rounding of it, and the
mean stops being what its inputs say."""
Flag = StrictBool
"""A JSON boolean; never 0/1 or a string."""
Count = StrictInt
"""A JSON integer; never a float, a boolean or a string."""


_clean = AfterValidator(no_control_characters)
CleanText = _clean
"""Refuses C0 control characters (NUL included) but tab and newlines; for any free text."""

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), _clean
]
"""A short trimmed label (names, user names, external ids), 1 to 200 characters."""

Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), _clean
]
LongText = Annotated[str, StringConstraints(max_length=10_000), _clean]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$"),
    _clean,
]


class InputModel(BaseModel):
    """A request body: unknown fields are refused, numbers must be finite."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_max_length=10_000)


class OutputModel(BaseModel):
    model_config = ConfigDict(from_attributes=True, allow_inf_nan=False)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` back as ``cursor`` for the next."""

    items: list[T]
    next_cursor: str | None = Field(
        description="Opaque cursor for the next page; null on the last page."
    )
