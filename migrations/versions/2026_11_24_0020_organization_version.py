"""``organizations`` gets ``version`` and ``updated_at``, so its settings carry an ETag.

``PATCH /v1/organization`` ignored ``If-Match``: the row had no version to compare. Existing
rows start at version 1, as a new row does, and were last updated when they were created.

Revision ID: 0020_organization_version
Revises: 0019_objective_id_hash
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_organization_version"
down_revision: str | None = "0019_objective_id_hash"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "organizations",
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.execute("UPDATE organizations SET updated_at = created_at")
    # The default stays (other versioned tables have none): rows inserted by SQL written
    # before this column, such as provisioning scripts, name no version.
    op.add_column(
        "organizations",
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("organizations", "version")
    op.drop_column("organizations", "updated_at")
