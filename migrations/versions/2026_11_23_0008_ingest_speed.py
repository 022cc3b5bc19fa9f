"""Ingest speed: one foreign key per reading, running window aggregates per alert series.

- ``kpi_readings`` had two foreign keys, to ``kpis`` and to ``organizations``: two trigger
  checks per row, about a quarter of the insert. One composite key to ``kpis (id,
  organization_id)`` checks both at once (and is stricter: a reading's organization is its
  KPI's), and still cascades when a KPI or its organization is deleted.
- ``kpi_reading_versions.readings_version`` moves by one with every statement that stores
  readings of the KPI (under that row's lock), so an evaluator can tell whether the running
  aggregate it kept (``alert_states.agg_*``) has seen every stored reading. A table of its
  own: a new version of the ``kpis`` row per batch slowed concurrent batches' foreign-key
  checks.

Revision ID: 0008_ingest_speed
Revises: 0007_alignment
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_ingest_speed"
down_revision: str | None = "0007_alignment"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AGG_COLUMNS = (
    ("agg_at", sa.DateTime(timezone=True)),
    ("agg_since", sa.DateTime(timezone=True)),
    ("agg_window", sa.Interval()),
    ("agg_version", sa.BigInteger()),
    ("agg_samples", sa.BigInteger()),
    ("agg_sum", sa.Float()),
    ("agg_min", sa.Float()),
    ("agg_max", sa.Float()),
)


def upgrade() -> None:
    op.create_unique_constraint(
        op.f("uq_kpis_id_organization_id"), "kpis", ["id", "organization_id"]
    )
    op.create_table(
        "kpi_reading_versions",
        sa.Column("kpi_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("readings_version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["kpi_id", "organization_id"],
            ["kpis.id", "kpis.organization_id"],
            name=op.f("fk_kpi_reading_versions_kpi_id_kpis"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("kpi_id", name=op.f("pk_kpi_reading_versions")),
    )
    op.drop_constraint(
        op.f("fk_kpi_readings_organization_id_organizations"), "kpi_readings", type_="foreignkey"
    )
    op.drop_constraint(op.f("fk_kpi_readings_kpi_id_kpis"), "kpi_readings", type_="foreignkey")
    op.create_foreign_key(
        op.f("fk_kpi_readings_kpi_id_kpis"),
        "kpi_readings",
        "kpis",
        ["kpi_id", "organization_id"],
        ["id", "organization_id"],
        ondelete="CASCADE",
    )
    for name, type_ in _AGG_COLUMNS:
        op.add_column("alert_states", sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    for name, _ in reversed(_AGG_COLUMNS):
        op.drop_column("alert_states", name)
    op.drop_constraint(op.f("fk_kpi_readings_kpi_id_kpis"), "kpi_readings", type_="foreignkey")
    op.create_foreign_key(
        op.f("fk_kpi_readings_kpi_id_kpis"),
        "kpi_readings",
        "kpis",
        ["kpi_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_foreign_key(
        op.f("fk_kpi_readings_organization_id_organizations"),
        "kpi_readings",
        "organizations",
        ["organization_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.drop_table("kpi_reading_versions")
    op.drop_constraint(op.f("uq_kpis_id_organization_id"), "kpis", type_="unique")
