"""Alignment: weighted objective links (a DAG), KPIs linked to objectives, roll-up mode.

Revision ID: 0007_alignment
Revises: 0006_people_sync
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_alignment"
down_revision: str | None = "0006_people_sync"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _tenant_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    ]


def upgrade() -> None:
    op.add_column(
        "objectives",
        sa.Column("rollup", sa.String(length=16), server_default="key_results", nullable=False),
    )
    op.create_index(
        "ix_objectives_rolls_up",
        "objectives",
        ["id"],
        postgresql_where=sa.text("rollup <> 'key_results'"),
    )
    op.create_table(
        "objective_links",
        sa.Column("child_id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        *_tenant_columns(),
        sa.CheckConstraint("weight > 0", name=op.f("ck_objective_links_weight_positive")),
        sa.CheckConstraint("child_id <> parent_id", name=op.f("ck_objective_links_not_self")),
        sa.CheckConstraint(
            "kind IN ('contributes', 'supports')", name=op.f("ck_objective_links_kind_known")
        ),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["objectives.id"],
            name=op.f("fk_objective_links_child_id_objectives"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["objectives.id"],
            name=op.f("fk_objective_links_parent_id_objectives"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_objective_links_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_objective_links")),
        sa.UniqueConstraint(
            "child_id", "parent_id", name=op.f("uq_objective_links_child_id_parent_id")
        ),
    )
    op.create_index(
        op.f("ix_objective_links_organization_id"), "objective_links", ["organization_id"]
    )
    op.create_index(op.f("ix_objective_links_parent_id"), "objective_links", ["parent_id"])
    op.create_table(
        "objective_kpis",
        sa.Column("objective_id", sa.Uuid(), nullable=False),
        sa.Column("kpi_id", sa.Uuid(), nullable=False),
        *_tenant_columns(),
        sa.ForeignKeyConstraint(
            ["kpi_id"], ["kpis.id"], name=op.f("fk_objective_kpis_kpi_id_kpis"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["objective_id"],
            ["objectives.id"],
            name=op.f("fk_objective_kpis_objective_id_objectives"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_objective_kpis_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_objective_kpis")),
        sa.UniqueConstraint(
            "objective_id", "kpi_id", name=op.f("uq_objective_kpis_objective_id_kpi_id")
        ),
    )
    op.create_index(op.f("ix_objective_kpis_kpi_id"), "objective_kpis", ["kpi_id"])
    op.create_index(
        op.f("ix_objective_kpis_organization_id"), "objective_kpis", ["organization_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_objective_kpis_organization_id"), table_name="objective_kpis")
    op.drop_index(op.f("ix_objective_kpis_kpi_id"), table_name="objective_kpis")
    op.drop_table("objective_kpis")
    op.drop_index(op.f("ix_objective_links_parent_id"), table_name="objective_links")
    op.drop_index(op.f("ix_objective_links_organization_id"), table_name="objective_links")
    op.drop_table("objective_links")
    op.drop_index("ix_objectives_rolls_up", table_name="objectives")
    op.drop_column("objectives", "rollup")
