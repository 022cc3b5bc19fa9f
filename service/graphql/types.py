"""Shared GraphQL types: Relay-style connections and the page arguments they take."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, Protocol, TypeVar

import strawberry

from service.common.pagination import MAX_LIMIT, PageRequest, encode_cursor
from service.common.schemas import in_accepted_range
from service.errors import ValidationFailed

N = TypeVar("N")


@strawberry.type(description="Where a page of a connection ends.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether another page follows.")
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` to read the next page; null when the page is empty."
    )


@strawberry.type(description="One item of a connection, with the cursor that points at it.")
class Edge(Generic[N]):
    cursor: str = strawberry.field(description="Opaque position of this item.")
    node: N = strawberry.field(description="The item.")


@strawberry.type(description="A page of items, oldest first, with how to read the next.")
class Connection(Generic[N]):
    edges: list[Edge[N]] = strawberry.field(description="The items of this page.")
    page_info: PageInfo = strawberry.field(description="Whether and how to read on.")


First = Annotated[int, strawberry.argument(description=f"Items per page, 1 to {MAX_LIMIT}.")]
Id = Annotated[uuid.UUID, strawberry.argument(description="The id to look up.")]
After = Annotated[str | None, strawberry.argument(description="`endCursor` of the previous page.")]


def page_request(first: int, after: str | None) -> PageRequest:
    if not 1 <= first <= MAX_LIMIT:
        raise ValidationFailed.on("first", f"`first` must be between 1 and {MAX_LIMIT}.")
    if after is not None and len(after) > 200:
        raise ValidationFailed.on("after", "`after` is not a cursor this service issued.")
    return PageRequest(limit=first, cursor=after)


def aware(name: str, value: datetime | None) -> datetime | None:
    """A ``DateTime`` argument as REST's ``InputDateTime`` takes it: with an offset, in UTC.

    GraphQL's scalar also parses ``2026-11-01T00:30:00`` (and a bare date), which the
    database would then read in its own time zone; REST refuses those, and so does this."""
    if value is None:
        return None
    if value.utcoffset() is None:
        raise ValidationFailed.on(
            name, f"`{name}` needs an offset, e.g. `2026-11-01T00:30:00Z` or `+02:00`."
        )
    try:
        return in_accepted_range(value)
    except ValueError as exc:
        raise ValidationFailed.on(name, f"`{name}` {exc}.") from exc


class Row(Protocol):
    @property
    def id(self) -> uuid.UUID: ...

    @property
    def created_at(self) -> datetime: ...


def connection(nodes: Sequence[N], rows: Sequence[Row], next_cursor: str | None) -> Connection[N]:
    """Edges in the REST cursor format, so `endCursor` equals REST's `next_cursor`."""
    edges = [
        Edge(cursor=encode_cursor(row.created_at, row.id), node=node)
        for node, row in zip(nodes, rows, strict=True)
    ]
    end = edges[-1].cursor if edges else None
    return Connection(
        edges=edges, page_info=PageInfo(has_next_page=next_cursor is not None, end_cursor=end)
    )


def arg(description: str) -> Any:
    """A documented argument (every GraphQL argument has a description)."""
    return strawberry.argument(description=description)


def optional_field(description: str) -> Any:
    """An input field the client may omit; omitted stays distinguishable from null."""
    return strawberry.field(default=strawberry.UNSET, description=description)


def given(data: object) -> dict[str, Any]:
    """The input fields the client sent (explicit nulls included), as for a REST PATCH."""
    return {name: value for name, value in vars(data).items() if value is not strawberry.UNSET}
