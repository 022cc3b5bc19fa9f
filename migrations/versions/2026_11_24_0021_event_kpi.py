"""``events.kpi_id``: a KPI's alert history found by index, rules since deleted included.

The history read each of the organization's alert events' bodies to find the KPI's (rules
and their series go with a deleted rule, the events stay): a KPI quiet for long walked all
the others'. The id is now kept beside the body, as the fingerprint is, and indexed.
Existing alert events get it from their body; no foreign key, as the history outlives the
KPI.

Revision ID: 0021_event_kpi
Revises: 0020_organization_version
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_event_kpi"
down_revision: str | None = "0020_organization_version"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("events", sa.Column("kpi_id", sa.Uuid(), nullable=True))
    op.execute(
        """
        UPDATE events
        SET kpi_id = (convert_from(body, 'UTF8')::jsonb #>> '{data,kpi,id}')::uuid
        WHERE type LIKE 'kpi.%' AND fingerprint IS NOT NULL
        """
    )
    op.create_index(
        "ix_events_org_kpi_created",
        "events",
        ["organization_id", "kpi_id", "created_at", "id"],
        postgresql_where=sa.text("kpi_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_events_org_kpi_created", table_name="events")
    op.drop_column("events", "kpi_id")
