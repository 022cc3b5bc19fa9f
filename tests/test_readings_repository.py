"""The asyncpg hot path runs inside the session's transaction, whatever ran before it."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import text

from service.kpis.readings_repository import driver_of
from tests.conftest import Tenant


async def test_raw_statements_first_in_a_session_still_roll_back(
    app: FastAPI, tenant: Tenant
) -> None:
    async with app.state.sessionmaker() as session:
        driver = await driver_of(session)  # nothing has gone through SQLAlchemy yet
        await driver.execute(
            "UPDATE organizations SET name = 'changed' WHERE id = $1", tenant.organization_id
        )
        await session.rollback()
    async with app.state.sessionmaker() as session:
        name = await session.scalar(
            text("SELECT name FROM organizations WHERE id = :id"), {"id": tenant.organization_id}
        )
    assert name == "Acme"


async def test_raw_row_locks_are_held_until_the_session_ends(app: FastAPI, tenant: Tenant) -> None:
    async with app.state.sessionmaker() as holder, app.state.sessionmaker() as other:
        driver = await driver_of(holder)
        await driver.fetch(
            "SELECT id FROM organizations WHERE id = $1 FOR UPDATE", tenant.organization_id
        )
        probe = await driver_of(other)
        skipped = await probe.fetch(
            "SELECT id FROM organizations WHERE id = $1 FOR UPDATE SKIP LOCKED",
            tenant.organization_id,
        )
        assert skipped == []
        await holder.rollback()
        assert (
            len(
                await probe.fetch(
                    "SELECT id FROM organizations WHERE id = $1 FOR UPDATE SKIP LOCKED",
                    tenant.organization_id,
                )
            )
            == 1
        )
