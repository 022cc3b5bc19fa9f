"""``Idempotency-Key`` on POST: the first answer is stored with the change and replayed.

The record is inserted at the start of the request's transaction. A concurrent repeat
blocks on the primary key until the first commits (then replays its answer) or rolls
back (then runs itself), so one key never produces two changes.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Annotated

from fastapi import Header, Request, Response
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert

from service.api.deps import PrincipalDep, SessionDep
from service.config import get_settings
from service.errors import BadRequest, ValidationFailed
from service.models import IdempotencyRecord
from service.models.base import utcnow

REPLAYED_HEADERS = ("content-type", "location", "etag")


class IdempotentReplay(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


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
    digest = hashlib.sha256(
        request.method.encode() + b" " + request.url.path.encode() + b"\n" + body
    ).hexdigest()
    org_id = principal.organization_id
    ttl = timedelta(hours=get_settings().idempotency_ttl_hours)
    where = (IdempotencyRecord.organization_id == org_id, IdempotencyRecord.key == idempotency_key)
    await session.execute(
        delete(IdempotencyRecord).where(*where, IdempotencyRecord.created_at < utcnow() - ttl)
    )
    inserted = await session.execute(
        insert(IdempotencyRecord)
        .values(
            organization_id=org_id,
            key=idempotency_key,
            request_hash=digest,
            method=request.method,
            path=request.url.path,
        )
        .on_conflict_do_nothing()
        .returning(IdempotencyRecord.key)
    )
    if inserted.scalar_one_or_none() is not None:
        request.state.idempotency_key = idempotency_key
        return
    record = (await session.execute(select(IdempotencyRecord).where(*where))).scalar_one()
    if record.request_hash != digest:
        raise ValidationFailed(
            "This Idempotency-Key was already used with a different request; use a new key."
        )
    headers = dict(record.response_headers or {})
    headers["Idempotent-Replayed"] = "true"
    raise IdempotentReplay(
        Response(
            content=record.response_body, status_code=record.status_code or 200, headers=headers
        )
    )


async def store_response(request: Request, response: Response) -> None:
    key = getattr(request.state, "idempotency_key", None)
    if key is None:
        return
    session = request.state.session
    headers = {k: v for k, v in response.headers.items() if k in REPLAYED_HEADERS}
    await session.execute(
        update(IdempotencyRecord)
        .where(
            IdempotencyRecord.organization_id == request.state.principal.organization_id,
            IdempotencyRecord.key == key,
        )
        .values(
            status_code=response.status_code, response_headers=headers, response_body=response.body
        )
    )
