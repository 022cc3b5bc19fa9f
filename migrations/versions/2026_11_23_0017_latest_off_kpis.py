"""Each KPI's newest reading moves from ``kpis`` to ``kpi_reading_versions``.

Every statement that stores readings moved ``kpis.latest_*``: a new version of the KPI row
per batch, which every later reading's foreign-key check (it reads that row) had to walk
past until vacuum ran, and which bloated ``kpis``. ``kpi_reading_versions`` is moved by
the same statements already, under the same lock.

Revision ID: 0017_latest_off_kpis
Revises: 0016_webhook_throttle
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_latest_off_kpis"
down_revision: str | None = "0016_webhook_throttle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("kpi_reading_versions", sa.Column("latest_value", sa.Float(), nullable=True))
    op.add_column(
        "kpi_reading_versions",
        sa.Column("latest_observed_at", sa.DateTime(timezone=True), nullable=True),
    )
    # A KPI with a latest reading has a version row (the same statement wrote both), but
    # one written before that table existed may not: insert what is missing.
    op.execute(
        """
        INSERT INTO kpi_reading_versions
            (kpi_id, organization_id, readings_version, latest_value, latest_observed_at)
        SELECT id, organization_id, 0, latest_value, latest_observed_at FROM kpis
        WHERE latest_observed_at IS NOT NULL
        ON CONFLICT (kpi_id) DO UPDATE SET
            latest_value = excluded.latest_value,
            latest_observed_at = excluded.latest_observed_at
        """
    )
    op.drop_column("kpis", "latest_observed_at")
    op.drop_column("kpis", "latest_value")


def downgrade() -> None:
    op.add_column("kpis", sa.Column("latest_value", sa.Float(), nullable=True))
    op.add_column(
        "kpis", sa.Column("latest_observed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute(
        """
        UPDATE kpis SET latest_value = v.latest_value, latest_observed_at = v.latest_observed_at
        FROM kpi_reading_versions AS v WHERE v.kpi_id = kpis.id
        """
    )
    op.drop_column("kpi_reading_versions", "latest_observed_at")
    op.drop_column("kpi_reading_versions", "latest_value")
