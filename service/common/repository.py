"""Tenant-scoped SQL helpers every repository builds on."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from service.common.pagination import PageRequest, apply_keyset

M = TypeVar("M")


async def get_scoped(
    session: AsyncSession,
    model: type[M],
    organization_id: uuid.UUID,
    ident: uuid.UUID,
    *,
    for_update: bool = False,
) -> M | None:
    """The row with this id in this organization, or None: other tenants' rows do not exist."""
    stmt = select(model).where(
        model.organization_id == organization_id,  # type: ignore[attr-defined]
        model.id == ident,  # type: ignore[attr-defined]
    )
    if for_update:
        # The row may already be in the session from an unlocked read: take the locked,
        # current values, or the version check on update would see a stale row.
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def serialize_in_organization(
    session: AsyncSession, what: str, organization_id: uuid.UUID
) -> None:
    """Hold an advisory lock named ``what`` for this organization until commit. For checks
    that read more than the rows they change (a chain of managers, a team's ancestors, the
    alignment graph's paths): row locks cannot serialise two such changes, and two checked
    at once could each pass and together close a loop."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"meridian.{what}.{organization_id}"},
    )


async def get_many_scoped(
    session: AsyncSession, model: type[M], organization_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> list[M]:
    if not ids:
        return []
    stmt = select(model).where(
        model.organization_id == organization_id,  # type: ignore[attr-defined]
        model.id.in_(ids),  # type: ignore[attr-defined]
    )
    return list((await session.scalars(stmt)).all())


async def list_scoped(
    session: AsyncSession,
    model: type[M],
    organization_id: uuid.UUID,
    page: PageRequest,
    filters: Sequence[ColumnElement[bool]] = (),
) -> list[M]:
    stmt: Any = select(model).where(
        model.organization_id == organization_id,  # type: ignore[attr-defined]
        *filters,
    )
    return list((await session.scalars(apply_keyset(stmt, model, page))).all())
