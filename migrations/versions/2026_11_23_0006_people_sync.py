"""People sync: SCIM attributes on people, deprovisioning, the organization's orphan policy.

Revision ID: 0006_people_sync
Revises: 0004_webhooks
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_people_sync"
down_revision: str | None = "0004_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("people", sa.Column("employee_number", sa.String(length=200), nullable=True))
    op.add_column("people", sa.Column("department", sa.String(length=200), nullable=True))
    op.add_column(
        "people",
        sa.Column(
            "scim_attributes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )
    op.add_column(
        "people", sa.Column("deprovisioned_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "organizations",
        sa.Column("orphan_policy", sa.String(length=32), server_default="flag", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("organizations", "orphan_policy")
    op.drop_column("people", "deprovisioned_at")
    op.drop_column("people", "scim_attributes")
    op.drop_column("people", "department")
    op.drop_column("people", "employee_number")
