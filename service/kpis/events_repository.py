"""SQL over the outbox events alert series wrote: a KPI's alert history, and what a silence
kept from consumers.

Events outlive their series (a rule or KPI deleted takes its ``alert_states`` row with it),
so they are found by what they carry, never by joining the series: the KPI's id in their
own column, and the episode's ``data.alert_id`` in the exact JSON delivered
(``events.outbox.encode_body``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.common.driver import driver_of
from service.models import Event

SERIES_EVENTS = ("kpi.breached", "kpi.recovered", "kpi.no_data", "kpi.data_resumed")
NOTICES = ("kpi.breached", "kpi.no_data")
"""The events that open or restate an episode: what a consumer triggers an incident on."""


async def history(
    session: AsyncSession,
    organization_id: uuid.UUID,
    kpi_id: uuid.UUID,
    before: tuple[datetime, str] | None,
    limit: int,
) -> list[Event]:
    """The KPI's alert events, newest first, including those of rules since deleted (the
    event keeps its KPI's id, ``ix_events_org_kpi_created``)."""
    stmt = select(Event).where(
        Event.organization_id == organization_id,
        Event.kpi_id == kpi_id,
        Event.type.in_(SERIES_EVENTS),
    )
    if before is not None:
        stmt = stmt.where(
            (Event.created_at < before[0])
            | ((Event.created_at == before[0]) & (Event.id < before[1]))
        )
    stmt = stmt.order_by(Event.created_at.desc(), Event.id.desc()).limit(limit)
    return list((await session.scalars(stmt)).all())


EPISODE_TOLD_SQL = """
SELECT EXISTS (
    SELECT 1 FROM events
    WHERE organization_id = $1::uuid AND fingerprint = $2::text
      AND type = ANY($3::text[]) AND suppressed_reason IS NULL
      AND convert_from(body, 'UTF8')::jsonb #>> '{data,alert_id}' = $4::text
)
"""


async def episode_was_told(
    session: AsyncSession, organization_id: uuid.UUID, fingerprint: str, alert_id: str
) -> bool:
    """Whether any notice of the episode ``alert_id`` went out unsuppressed: then a
    consumer holds an incident for it, and only its resolution closes that."""
    driver = await driver_of(session)
    told: bool = await driver.fetchval(
        EPISODE_TOLD_SQL, organization_id, fingerprint, list(NOTICES), alert_id
    )
    return told


LAST_NOTICE_SUPPRESSED_SQL = """
SELECT s.fingerprint
FROM unnest($1::uuid[], $2::text[]) AS s(organization_id, fingerprint)
CROSS JOIN LATERAL (
    -- The series' latest notice, one backward probe of (fingerprint, sequence).
    SELECT suppressed_reason FROM events
    WHERE fingerprint = s.fingerprint AND organization_id = s.organization_id
      AND type = ANY($3::text[])
    ORDER BY sequence DESC
    LIMIT 1
) AS n
WHERE n.suppressed_reason IS NOT NULL
"""


async def last_notice_suppressed(
    session: AsyncSession, series: Sequence[tuple[uuid.UUID, str]]
) -> set[str]:
    """Of these ``(organization, fingerprint)`` series, the ones whose latest notice was
    suppressed. For a series in an open episode that notice is the episode's current state
    (every transition into or within an episode writes one)."""
    if not series:
        return set()
    driver = await driver_of(session)
    records = await driver.fetch(
        LAST_NOTICE_SUPPRESSED_SQL,
        [org for org, _ in series],
        [fingerprint for _, fingerprint in series],
        list(NOTICES),
    )
    return {rec[0] for rec in records}
