"""``Idempotency-Key`` on POST: the first answer is stored with the change and replayed.

The record is inserted at the start of the request's transaction. A concurrent repeat
blocks on the primary key until the first commits (then replays its answer) or rolls
back (then runs itself), so one key never produces two changes.

A replay is served only to the API key that made the first request: the guard runs before
the route's scope check, so the request hash covers the API key's id as well as the method,
path and body, and another key of the organization reusing the key gets the ``422`` of a
key reused differently, never the stored answer (which may hold a new API key or a webhook
secret). Stored answers are sealed like webhook secrets (``webhooks/secret_box.py``), bound
to their record by the organization's id and the key (migration 0018 deleted the records
stored in clear).
Expired records are deleted in batches by ``run_sweeper``, a loop of ``meridian serve`` and
``meridian worker``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Header, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.api import idempotency_repository as repository
from service.api.deps import PrincipalDep, SessionDep
from service.common.failure_runs import FailureRun, every
from service.config import get_settings
from service.errors import BadRequest, ServiceError, ValidationFailed
from service.models import IdempotencyRecord
from service.models.base import utcnow
from service.webhooks.secret_box import SecretBox, UnreadableSecret

logger = logging.getLogger("meridian.idempotency")
# ``cache-control``: an answer carrying a secret says ``no-store``, and so does its replay.
REPLAYED_HEADERS = ("content-type", "location", "etag", "cache-control")
REUSED = (
    "This Idempotency-Key was already used with a different request or by another API key; "
    "use a new key."
)
SWEEP_INTERVAL = 600.0
SWEEP_BATCH = 500


class IdempotentReplay(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def request_hash(api_key_id: uuid.UUID, method: str, target: str, body: bytes) -> str:
    """What a repeat must match: the same API key sending the same request (``target``:
    the path with its query string)."""
    caller = api_key_id.hex.encode()
    return hashlib.sha256(
        caller + b"\n" + method.encode() + b" " + target.encode() + b"\n" + body
    ).hexdigest()


def associated_data(organization_id: uuid.UUID, key: str) -> bytes:
    """Binds a sealed answer to its record: copied onto another, it does not open."""
    return b"idempotency\n" + organization_id.bytes + key.encode()


async def idempotency_guard(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="On POST: a repeat with this key replays the first answer.",
            # Documented here, checked below: a bad key is a 400 (as before), not a 422.
            json_schema_extra={"minLength": 1, "maxLength": 255, "pattern": r"^[^\x00-\x1f\x7f]+$"},
        ),
    ] = None,
) -> None:
    if idempotency_key is None:
        return
    # Checked on every method, as documented, though only a POST stores anything.
    if not 1 <= len(idempotency_key) <= 255 or not idempotency_key.isprintable():
        raise BadRequest("Idempotency-Key must be 1 to 255 printable characters.")
    if request.method != "POST":
        return
    body = await request.body()
    method, path = request.method, request.url.path
    # The query string too: `?atomic=true` asks for another request than `?atomic=false`.
    query = request.url.query
    digest = request_hash(principal.api_key_id, method, f"{path}?{query}" if query else path, body)
    org_id = principal.organization_id
    claimed = await repository.claim(
        session,
        org_id,
        idempotency_key,
        request_hash=digest,
        method=method,
        path=path,
        expired_before=utcnow() - get_settings().idempotency_ttl(),
    )
    if claimed:
        request.state.idempotency_key = idempotency_key
        return
    record = await repository.get(session, org_id, idempotency_key)
    raise IdempotentReplay(_replay(request.app.state.secret_box, record, digest))


def _replay(box: SecretBox, record: IdempotencyRecord, digest: str) -> Response:
    """The stored answer, if this request (and API key) is the one that made it."""
    if record.request_hash != digest:
        raise ValidationFailed(REUSED)
    content = None if record.response_body is None else _opened(box, record)
    headers = dict(record.response_headers or {})
    headers["Idempotent-Replayed"] = "true"
    return Response(content=content, status_code=record.status_code or 200, headers=headers)


def _opened(box: SecretBox, record: IdempotencyRecord) -> bytes:
    assert record.response_body is not None
    try:
        return box.open_bytes(
            record.response_body, associated_data(record.organization_id, record.key)
        )
    except UnreadableSecret as exc:
        # The keys were changed without keeping the old one: an operator's to restore.
        logger.error("stored idempotent answer unreadable", extra={"reason": str(exc)})
        raise ServiceError(
            "The stored answer to this Idempotency-Key cannot be read; it has been logged."
        ) from exc


async def store_response(request: Request, response: Response) -> None:
    key = getattr(request.state, "idempotency_key", None)
    if key is None:
        return
    org_id = request.state.principal.organization_id
    box: SecretBox = request.app.state.secret_box
    await repository.store_answer(
        request.state.session,
        org_id,
        key,
        status_code=response.status_code,
        headers={k: v for k, v in response.headers.items() if k in REPLAYED_HEADERS},
        # Sealed whatever the route: an answer may carry a new API key or webhook secret.
        body=box.seal_bytes(bytes(response.body), associated_data(org_id, key)),
    )


async def sweep_expired(
    sessions: async_sessionmaker[AsyncSession],
    expired_before: datetime,
    batch: int = SWEEP_BATCH,
    stop: asyncio.Event | None = None,
) -> int:
    """Delete every record created before ``expired_before``, ``batch`` rows per
    transaction (so no transaction holds many locks or a long snapshot); returns the count.
    """
    deleted = 0
    while stop is None or not stop.is_set():
        async with sessions() as session, session.begin():
            swept = await repository.delete_expired(session, expired_before, batch)
        deleted += swept
        if swept < batch:
            break
    return deleted


async def run_sweeper(
    sessions: async_sessionmaker[AsyncSession],
    ttl: timedelta,
    stop: asyncio.Event,
    interval: float = SWEEP_INTERVAL,
) -> None:
    """Sweep expired records every ``interval`` seconds until ``stop``: without it a key
    that is never reused would keep its record (and its stored answer) for ever."""

    def report(deleted: int) -> None:
        if deleted:
            logger.info("expired idempotency records deleted", extra={"records": deleted})

    async def sweep() -> int:
        return await sweep_expired(sessions, utcnow() - ttl, stop=stop)

    await every(interval, stop, sweep, FailureRun(logger, "idempotency sweep"), report)
