"""Strong ETags over the whole representation; ``If-None-Match`` on reads, ``If-Match`` on writes.

A tag is ``"<id12>-<version>.<digest>"``: the row's id and version, then a short digest of
the representation as served. Many representations carry numbers computed from other rows
or from the clock (an objective's rolled-up progress, pace and health; a KPI's latest
reading and health; a key result's progress) that move without the row's version, so
``If-None-Match`` compares the whole tag: any change in what a client would read is a 200.

``If-Match`` compares only ``<id12>-<version>``, on purpose: optimistic concurrency guards
what the client edits (the version moves with every write to the row's own fields), and a
new reading, a check-in under an objective or time passing must not turn every ``PATCH``
into a 412. Tags from before the digest (``"<id12>-<version>"``) therefore still match.

``If-None-Match`` uses the weak comparison, so ``W/"..."`` matches its strong tag there;
``If-Match`` uses the strong one (RFC 9110 §13.1.1), so a weak tag never matches it.
"""

from __future__ import annotations

import uuid
from hashlib import blake2b
from typing import Annotated, Protocol

from fastapi import Header, Request, Response
from pydantic import BaseModel

from service.errors import PreconditionFailed

DIGEST_BYTES = 5  # 10 hex digits: a cache key for one resource, not a security boundary
ETAG_FIELD_DESCRIPTION = (
    "The REST `ETag` of this state. Pass it as `ifMatch` when updating: it matches while the "
    "fields you edit are unchanged, even if computed ones (progress, latest reading) moved."
)


class Versioned(Protocol):
    id: uuid.UUID
    version: int


class NotModified(Exception):
    def __init__(self, etag: str) -> None:
        self.etag = etag


def version_tag(row: Versioned) -> str:
    """The part of the tag that ``If-Match`` compares: what the client edits."""
    return f"{row.id.hex[:12]}-{row.version}"


def etag_of(row: Versioned, representation: BaseModel) -> str:
    """The tag of ``representation``, the read model served for ``row`` (REST and GraphQL
    pass the same one, so both give the same tag for the same state)."""
    encoded = representation.model_dump_json().encode()
    digest = blake2b(encoded, digest_size=DIGEST_BYTES).hexdigest()
    return f'"{version_tag(row)}.{digest}"'


def set_etag(
    response: Response, request: Request, row: Versioned, representation: BaseModel
) -> None:
    """Tag the response; an ``If-None-Match`` naming the same tag turns a GET into 304."""
    tag = etag_of(row, representation)
    candidates = [c.strip() for c in request.headers.get("if-none-match", "").split(",")]
    matched = tag in candidates or f"W/{tag}" in candidates or "*" in candidates
    if request.method == "GET" and matched:
        raise NotModified(tag)
    response.headers["ETag"] = tag


IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The ETag you last read. It matches while the resource's own fields are "
        "unchanged (computed fields such as progress or the latest reading may have moved); "
        "a stale one gets 412 and changes nothing.",
    ),
]


def _version_part(candidate: str) -> str | None:
    """``<id12>-<version>`` of a quoted tag, with or without its digest."""
    if len(candidate) < 2 or not (candidate.startswith('"') and candidate.endswith('"')):
        return None
    return candidate[1:-1].partition(".")[0]


def check_if_match(header: str | None, row: Versioned) -> None:
    if header is None:
        return
    # The strong comparison (RFC 9110 §13.1.1): a weak tag (``W/"..."``) never matches, and
    # ``_version_part`` refuses it as not quoted.
    candidates = [c.strip() for c in header.split(",")]
    current = version_tag(row)
    if "*" in candidates or any(_version_part(c) == current for c in candidates):
        return
    raise PreconditionFailed(
        f'If-Match {header} does not match the current version "{current}"; '
        "read the resource again and retry."
    )
