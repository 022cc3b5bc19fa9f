"""Keyset pagination over ``(created_at, id)``: stable under inserts, no OFFSET scans."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query
from sqlalchemy import Select, and_, or_

from service.errors import BadRequest

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of the previous page.")
    ] = None,
) -> PageRequest:
    return PageRequest(limit=limit, cursor=cursor)


def encode_keyset(moment: datetime, tiebreak: str) -> str:
    """An opaque cursor for a ``(timestamp, tie-breaker)`` keyset position."""
    raw = json.dumps([moment.isoformat(), tiebreak]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_keyset(cursor: str) -> tuple[datetime, str]:
    """The position a cursor of ours names; anything else is a 400, never a 500."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        moment_text, tiebreak = json.loads(base64.urlsafe_b64decode(padded))
        moment = datetime.fromisoformat(moment_text)
        if moment.tzinfo is None or not isinstance(tiebreak, str):
            raise ValueError("not a cursor of ours")
        return moment.astimezone(UTC), tiebreak
    except (ValueError, TypeError, OverflowError) as exc:
        raise BadRequest("The cursor is not one this service issued.") from exc


def encode_cursor(created_at: datetime, ident: uuid.UUID) -> str:
    return encode_keyset(created_at, str(ident))


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    moment, tiebreak = decode_keyset(cursor)
    try:
        return moment, uuid.UUID(tiebreak)
    except ValueError as exc:
        raise BadRequest("The cursor is not one this service issued.") from exc


def encode_tied_cursor(moment: datetime, tied_at: datetime, ident: uuid.UUID) -> str:
    """A cursor for lists ordered by ``(moment, tied_at, id)``: rows of one ``moment`` (two
    check-ins observed at once) keep the order they were written in."""
    return encode_keyset(moment, f"{tied_at.isoformat()} {ident}")


def decode_tied_cursor(cursor: str) -> tuple[datetime, datetime, uuid.UUID]:
    moment, tiebreak = decode_keyset(cursor)
    tied_text, _, ident = tiebreak.partition(" ")
    try:
        tied_at = datetime.fromisoformat(tied_text)
        if tied_at.tzinfo is None:
            raise ValueError("not a cursor of ours")
        return moment, tied_at.astimezone(UTC), uuid.UUID(ident)
    except ValueError as exc:
        raise BadRequest("The cursor is not one this service issued.") from exc


def apply_keyset(stmt: Select[Any], model: Any, page: PageRequest) -> Select[Any]:
    """Order by ``(created_at, id)`` and start after the cursor; fetch one extra row."""
    if page.cursor:
        created_at, ident = decode_cursor(page.cursor)
        stmt = stmt.where(
            or_(
                model.created_at > created_at,
                and_(model.created_at == created_at, model.id > ident),
            )
        )
    return stmt.order_by(model.created_at, model.id).limit(page.limit + 1)


def created_position(row: Any) -> tuple[datetime, object]:
    return row.created_at, row.id


def split_page(
    rows: list[Any],
    page: PageRequest,
    position: Callable[[Any], tuple[datetime, object]] = created_position,
) -> tuple[list[Any], str | None]:
    """Drop the look-ahead row and turn its presence into the next cursor, which names the
    last row's keyset ``position`` (``(created_at, id)`` unless the list orders otherwise)."""
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    moment, tiebreak = position(rows[-1])
    return rows, encode_keyset(moment, str(tiebreak))
