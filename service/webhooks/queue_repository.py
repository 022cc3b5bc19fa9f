"""The dispatcher's SQL, on a plain asyncpg connection: claim, record, reap.

Claims are short transactions that set a lease (``locked_until``); the HTTP call happens
outside any transaction; results are recorded only while the lease we took still holds, so a
message reclaimed after its lease expired is never overwritten by the late worker.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

LOCK_DUE_ENDPOINTS = """
SELECT e.id
FROM webhook_endpoints e
WHERE NOT e.disabled
  AND EXISTS (SELECT 1 FROM webhook_messages m
              WHERE m.endpoint_id = e.id AND m.status IN ('pending', 'retrying')
                AND m.next_attempt_at <= now())
ORDER BY e.id
FOR NO KEY UPDATE OF e
"""
"""The endpoints with something due, locked for this claim (``NO KEY UPDATE``: the fan-out's
inserts take only ``KEY SHARE`` and never wait), so that claimers count an endpoint's
messages in flight and spend its tokens one after the other. A claimer waits for another's
claim (milliseconds) rather than skip the endpoint and sleep a poll interval; all lock in
id order, and nothing that holds an endpoint waits for a lock a claimer holds (messages are
taken with SKIP LOCKED)."""

CLAIM = """
WITH endpoints AS (
    -- Locked by LOCK_DUE_ENDPOINTS, in an earlier statement: this one's snapshot is taken
    -- after the locks were granted, so it sees what the claimer before it committed (the
    -- messages it set sending, the tokens it spent).
    SELECT e.id, e.max_in_flight,
           -- The token bucket refilled for the time since it was last spent, one second's
           -- worth at most; NULL without a rate.
           least(e.throttle_rate::float8,
                 coalesce(e.throttle_tokens, e.throttle_rate)
                 + e.throttle_rate * extract(
                     epoch FROM clock_timestamp() - coalesce(e.throttle_at, clock_timestamp()))
           ) AS tokens
    FROM webhook_endpoints e
    WHERE e.id = ANY($3::uuid[])
), allowance AS (
    SELECT n.id, n.tokens,
           greatest(0, least(
               n.max_in_flight - (SELECT count(*) FROM webhook_messages s
                                  WHERE s.endpoint_id = n.id AND s.status = 'sending'),
               coalesce(floor(n.tokens)::int, n.max_in_flight))) AS allowed
    FROM endpoints n
), due AS (
    SELECT picked.id, picked.endpoint_id
    FROM allowance a
    CROSS JOIN LATERAL (
        SELECT m.id, m.endpoint_id, m.next_attempt_at
        FROM webhook_messages m
        WHERE m.endpoint_id = a.id AND m.status IN ('pending', 'retrying')
          AND m.next_attempt_at <= now()
        ORDER BY m.next_attempt_at
        LIMIT a.allowed
        FOR UPDATE OF m SKIP LOCKED
    ) AS picked
    ORDER BY picked.next_attempt_at
    LIMIT $1
), spent AS (
    UPDATE webhook_endpoints e
    SET throttle_tokens = a.tokens - (SELECT count(*) FROM due WHERE due.endpoint_id = a.id),
        throttle_at = clock_timestamp()
    FROM allowance a
    WHERE e.id = a.id AND a.tokens IS NOT NULL
)
UPDATE webhook_messages m
SET status = 'sending',
    locked_until = clock_timestamp() + make_interval(secs => $2),
    attempt_count = m.attempt_count + 1,
    updated_at = now()
FROM due, events ev, webhook_endpoints e
WHERE m.id = due.id
  AND m.status IN ('pending', 'retrying')
  AND ev.id = m.event_id
  AND e.id = m.endpoint_id
RETURNING m.id, m.organization_id, m.event_id, m.endpoint_id, m.attempt_count, m.retry_index,
          m.trigger, m.locked_until, ev.type AS event_type, ev.body, e.url,
          ARRAY(
              SELECT s.secret FROM webhook_secrets s
              WHERE s.endpoint_id = e.id AND (s.expires_at IS NULL OR s.expires_at > now())
              ORDER BY s.created_at DESC
          ) AS secrets
"""
"""Claims due messages, oldest first, at most ``$1``, and per endpoint no more than its
``max_in_flight`` minus those it has being sent, and than its rate's whole tokens."""

RATE_WAIT = """
SELECT min((1 - e.throttle_tokens
            - extract(epoch FROM clock_timestamp() - e.throttle_at) * e.throttle_rate)
           / e.throttle_rate)
FROM webhook_endpoints e
WHERE e.throttle_rate IS NOT NULL AND NOT e.disabled
  AND e.throttle_tokens + extract(epoch FROM clock_timestamp() - e.throttle_at) * e.throttle_rate
      < 1
  AND EXISTS (SELECT 1 FROM webhook_messages m
              WHERE m.endpoint_id = e.id AND m.status IN ('pending', 'retrying')
                AND m.next_attempt_at <= now())
"""
"""Seconds until an endpoint held back by its rate, with messages due, has a token again;
NULL when none is."""

RECORD_MESSAGES = """
UPDATE webhook_messages m
SET status = r.outcome,
    next_attempt_at = coalesce(r.next_attempt_at, m.next_attempt_at),
    retry_index = m.retry_index + (r.outcome = 'retrying')::int,
    locked_until = NULL,
    last_status_code = r.status_code,
    updated_at = now()
FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::timestamptz[], $5::int[])
     AS r(id, lease, outcome, next_attempt_at, status_code)
WHERE m.id = r.id AND m.status = 'sending' AND m.locked_until = r.lease
RETURNING m.id
"""

INSERT_ATTEMPTS = """
INSERT INTO webhook_attempts (
    id, organization_id, message_id, event_id, endpoint_id, attempt_number, trigger, url,
    started_at, duration_ms, response_status, response_body, error_class, error, outcome,
    next_attempt_at)
SELECT * FROM unnest(
    $1::uuid[], $2::uuid[], $3::bigint[], $4::text[], $5::uuid[], $6::int[], $7::text[],
    $8::text[], $9::timestamptz[], $10::int[], $11::int[], $12::text[], $13::text[],
    $14::text[], $15::text[], $16::timestamptz[])
"""

# Any success clears the failure clock; a failure starts it if it is not running.
TRACK_FAILURES = """
UPDATE webhook_endpoints e
SET failing_since = CASE WHEN r.ok THEN NULL ELSE coalesce(e.failing_since, now()) END
FROM unnest($1::uuid[], $2::bool[]) AS r(id, ok)
WHERE e.id = r.id AND e.failing_since IS DISTINCT FROM
      (CASE WHEN r.ok THEN NULL ELSE coalesce(e.failing_since, now()) END)
"""

FAILING_FOR = """
SELECT id FROM webhook_endpoints
WHERE id = ANY($1::uuid[]) AND NOT disabled AND failing_since <= now() - make_interval(secs => $2)
"""

DISABLE = """
UPDATE webhook_endpoints e
SET disabled = true, disabled_reason = r.reason, version = e.version + 1, updated_at = now()
FROM unnest($1::uuid[], $2::text[]) AS r(id, reason)
WHERE e.id = r.id AND NOT e.disabled
RETURNING e.id, e.organization_id, e.url, e.disabled_reason, e.failing_since
"""

CANCEL_QUEUED = """
UPDATE webhook_messages SET status = 'canceled', updated_at = now()
WHERE endpoint_id = ANY($1::uuid[]) AND status IN ('pending', 'retrying')
"""

REAP = """
UPDATE webhook_messages SET status = 'retrying', locked_until = NULL, updated_at = now()
WHERE status = 'sending' AND locked_until < clock_timestamp()
RETURNING id
"""

RELEASE = """
UPDATE webhook_messages m
SET status = 'retrying', locked_until = NULL, attempt_count = m.attempt_count - 1,
    updated_at = now()
FROM unnest($1::bigint[], $2::timestamptz[]) AS r(id, lease)
WHERE m.id = r.id AND m.status = 'sending' AND m.locked_until = r.lease
"""

INSERT_EVENT = """
INSERT INTO events (id, organization_id, type, occurred_at, body)
VALUES ($1, $2, $3, $4, $5)
"""


@dataclass(frozen=True)
class Claimed:
    id: int
    organization_id: uuid.UUID
    event_id: str
    endpoint_id: uuid.UUID
    attempt_number: int
    retry_index: int
    trigger: str
    lease: datetime
    event_type: str
    body: bytes
    url: str
    secrets: list[str]


@dataclass(frozen=True)
class Recorded:
    claimed: Claimed
    started_at: datetime
    duration_ms: int
    outcome: str
    next_attempt_at: datetime | None
    status_code: int | None
    response_body: str | None
    error_class: str | None
    error: str | None


async def seconds_to_next_token(connection: Any) -> float | None:
    seconds = await connection.fetchval(RATE_WAIT)
    return None if seconds is None else max(0.0, float(seconds))


async def claim(connection: Any, limit: int, lease_seconds: float) -> list[Claimed]:
    """Two statements in the caller's transaction: lock the endpoints, then claim."""
    endpoints = [row[0] for row in await connection.fetch(LOCK_DUE_ENDPOINTS)]
    if not endpoints:
        return []
    rows = await connection.fetch(CLAIM, limit, lease_seconds, endpoints)
    return [
        Claimed(
            id=row["id"],
            organization_id=row["organization_id"],
            event_id=row["event_id"],
            endpoint_id=row["endpoint_id"],
            attempt_number=row["attempt_count"],
            retry_index=row["retry_index"],
            trigger=row["trigger"],
            lease=row["locked_until"],
            event_type=row["event_type"],
            body=bytes(row["body"]),
            url=row["url"],
            secrets=list(row["secrets"]),
        )
        for row in rows
    ]


async def record(connection: Any, results: Sequence[Recorded]) -> set[int]:
    """Store outcomes whose lease still holds, and their attempts; returns the stored ids."""
    stored = await connection.fetch(
        RECORD_MESSAGES,
        [r.claimed.id for r in results],
        [r.claimed.lease for r in results],
        [r.outcome for r in results],
        [r.next_attempt_at for r in results],
        [r.status_code for r in results],
    )
    kept = {row["id"] for row in stored}
    rows = [r for r in results if r.claimed.id in kept]
    if rows:
        await connection.execute(
            INSERT_ATTEMPTS,
            [uuid.uuid4() for _ in rows],
            [r.claimed.organization_id for r in rows],
            [r.claimed.id for r in rows],
            [r.claimed.event_id for r in rows],
            [r.claimed.endpoint_id for r in rows],
            [r.claimed.attempt_number for r in rows],
            [r.claimed.trigger for r in rows],
            [r.claimed.url for r in rows],
            [r.started_at for r in rows],
            [r.duration_ms for r in rows],
            [r.status_code for r in rows],
            [storable(r.response_body) for r in rows],
            [r.error_class for r in rows],
            [storable(r.error) for r in rows],
            [r.outcome for r in rows],
            [r.next_attempt_at for r in rows],
        )
    return kept


def storable(text: str | None) -> str | None:
    """``text`` as PostgreSQL can store it: no NUL (a receiver's body may hold one, and
    decoding it with ``errors="replace"`` keeps it) and no lone surrogate (an exception's
    text may); each becomes a replacement character."""
    if text is None:
        return None
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


async def track_failures(connection: Any, ok_by_endpoint: dict[uuid.UUID, bool]) -> None:
    ids = sorted(ok_by_endpoint)  # a stable lock order across concurrent workers
    await connection.execute(TRACK_FAILURES, ids, [ok_by_endpoint[i] for i in ids])


async def failing_for(
    connection: Any, endpoint_ids: Sequence[uuid.UUID], seconds: float
) -> list[uuid.UUID]:
    rows = await connection.fetch(FAILING_FOR, list(endpoint_ids), seconds)
    return [row["id"] for row in rows]


async def disable(connection: Any, reasons: dict[uuid.UUID, str]) -> list[Any]:
    ids = sorted(reasons)
    disabled = await connection.fetch(DISABLE, ids, [reasons[i] for i in ids])
    if disabled:
        await connection.execute(CANCEL_QUEUED, [row["id"] for row in disabled])
    return list(disabled)


async def reap(connection: Any) -> int:
    return len(await connection.fetch(REAP))


async def release(connection: Any, claimed: Sequence[Claimed]) -> None:
    await connection.execute(RELEASE, [c.id for c in claimed], [c.lease for c in claimed])


async def insert_event(
    connection: Any,
    event_id: str,
    organization_id: uuid.UUID,
    event_type: str,
    occurred_at: datetime,
    body: bytes,
) -> None:
    await connection.execute(INSERT_EVENT, event_id, organization_id, event_type, occurred_at, body)
