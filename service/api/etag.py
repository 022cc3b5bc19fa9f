"""Strong ETags from row versions; ``If-Match`` on writes, ``If-None-Match`` on reads."""

from __future__ import annotations

import uuid
from typing import Annotated, Protocol

from fastapi import Header, Request, Response

from service.errors import PreconditionFailed


class Versioned(Protocol):
    id: uuid.UUID
    version: int


class NotModified(Exception):
    def __init__(self, etag: str) -> None:
        self.etag = etag


def etag_of(row: Versioned) -> str:
    return f'"{row.id.hex[:12]}-{row.version}"'


def set_etag(response: Response, request: Request, row: Versioned) -> None:
    """Tag the response; a matching ``If-None-Match`` turns it into 304."""
    tag = etag_of(row)
    candidates = [c.strip() for c in request.headers.get("if-none-match", "").split(",")]
    matched = tag in candidates or f"W/{tag}" in candidates or "*" in candidates
    if request.method == "GET" and matched:
        raise NotModified(tag)
    response.headers["ETag"] = tag


IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The ETag you last read; a stale one gets 412 and changes nothing.",
    ),
]


def check_if_match(header: str | None, row: Versioned) -> None:
    if header is None:
        return
    candidates = [c.strip().removeprefix("W/") for c in header.split(",")]
    if "*" in candidates or etag_of(row) in candidates:
        return
    raise PreconditionFailed(
        f"If-Match {header} does not match the current version {etag_of(row)}; "
        "read the resource again and retry."
    )
