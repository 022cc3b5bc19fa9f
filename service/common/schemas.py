"""Base schema classes and field types shared by every domain."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
)


def _utc_rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def no_control_characters(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and no title or note needs C0 controls but tab/newline.
    # A regex, not a loop over characters: it runs on every reading's `source` too.
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


UtcDateTime = Annotated[datetime, PlainSerializer(_utc_rfc3339, return_type=str)]
"""A timestamp always written as RFC 3339 in UTC (``2026-01-02T03:04:05Z``)."""

InputDateTime = Annotated[AwareDatetime, AfterValidator(lambda v: v.astimezone(UTC))]
"""A timestamp accepted only with an offset, normalised to UTC."""


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
