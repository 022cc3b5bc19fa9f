"""Key results driven by a KPI: every reading of the KPI becomes a check-in.

Revision ID: 0003_kr_kpi
Revises: 0002_kpis
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_kr_kpi"
down_revision: str | None = "0002_kpis"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("key_results", sa.Column("kpi_id", sa.Uuid(), nullable=True))
    op.create_index(op.f("ix_key_results_kpi_id"), "key_results", ["kpi_id"], unique=False)
    op.create_foreign_key(
        op.f("fk_key_results_kpi_id_kpis"),
        "key_results",
        "kpis",
        ["kpi_id"],
        ["id"],
        ondelete="SET NULL",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("fk_key_results_kpi_id_kpis"), "key_results", type_="foreignkey")
    op.drop_index(op.f("ix_key_results_kpi_id"), table_name="key_results")
    op.drop_column("key_results", "kpi_id")
