"""What a SCIM list or search asks for (RFC 7644 §3.4.2), read from a query string or a
SearchRequest body: pure, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from service.errors import BadRequest
from service.scim.discovery import MAX_RESULTS
from service.scim.resources import project

LARGEST_INTEGER = 2**63 - 1
"""Where paging parameters saturate: any integer is a valid ``startIndex`` (one past the
last result is an empty page, RFC 7644 §3.4.2.4), and the one echoed back still fits the
64-bit integer a client reads it into."""
_DIGITS = re.compile(r"[+-]?[0-9]+")


def _integer(value: Any) -> int | None:
    """An integer from a query string or a JSON body (``2.0`` too), saturated to 64 bits;
    ``None`` for anything else (``1.5``, ``true``, ``Infinity``, ``"ten"``)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        text = value.strip()
        digits = text.lstrip("+-").lstrip("0") or "0"
        # Past 19 digits it saturates anyway; int() of thousands of digits is refused.
        magnitude = int(digits) if len(digits) <= 19 else LARGEST_INTEGER
        value = -magnitude if text.startswith("-") else magnitude
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    return max(-LARGEST_INTEGER, min(LARGEST_INTEGER, value))


@dataclass(frozen=True)
class Query:
    """What a list or search asks for (RFC 7644 §3.4.2)."""

    filter: str | None = None
    start_index: int = 1
    count: int = MAX_RESULTS
    attributes: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, params: dict[str, Any]) -> Query:
        def names(value: Any) -> list[str]:
            if isinstance(value, list):
                return [str(v).strip() for v in value if str(v).strip()]
            return [v.strip() for v in str(value or "").split(",") if v.strip()]

        def number(name: str, default: int) -> int:
            value = params.get(name)
            if value is None or value == "":
                return default
            parsed = _integer(value)
            if parsed is None:
                raise BadRequest(f"`{name}` is an integer.", scim_type="invalidValue")
            return parsed

        text = params.get("filter")
        if text is not None and not isinstance(text, str):
            raise BadRequest("`filter` is a string.", scim_type="invalidFilter")
        return cls(
            filter=text or None,
            start_index=max(1, number("startIndex", 1)),
            count=min(max(0, number("count", MAX_RESULTS)), MAX_RESULTS),
            attributes=names(params.get("attributes")),
            excluded=names(params.get("excludedAttributes")),
        )

    def shape(self, resource: dict[str, Any]) -> dict[str, Any]:
        return project(resource, self.attributes, self.excluded)
