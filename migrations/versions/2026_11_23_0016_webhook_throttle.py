"""Per-endpoint delivery limits: at most ``max_in_flight`` messages being sent at once, and
``throttle_rate`` messages a second (a token bucket whose state the claim keeps here).

Revision ID: 0016_webhook_throttle
Revises: 0013_sealed_secrets
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_webhook_throttle"
down_revision: str | None = "0013_sealed_secrets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "webhook_endpoints",
        sa.Column("max_in_flight", sa.Integer(), server_default="4", nullable=False),
    )
    op.add_column("webhook_endpoints", sa.Column("throttle_rate", sa.Integer(), nullable=True))
    op.add_column("webhook_endpoints", sa.Column("throttle_tokens", sa.Float(), nullable=True))
    op.add_column(
        "webhook_endpoints", sa.Column("throttle_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_check_constraint(
        "ck_webhook_endpoints_max_in_flight",
        "webhook_endpoints",
        "max_in_flight BETWEEN 1 AND 1000",
    )
    op.create_check_constraint(
        "ck_webhook_endpoints_throttle_rate",
        "webhook_endpoints",
        "throttle_rate BETWEEN 1 AND 10000",
    )
    # The claim counts each endpoint's messages being sent.
    op.create_index(
        "ix_webhook_messages_sending",
        "webhook_messages",
        ["endpoint_id"],
        postgresql_where=sa.text("status = 'sending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_messages_sending", table_name="webhook_messages")
    op.drop_constraint("ck_webhook_endpoints_throttle_rate", "webhook_endpoints", type_="check")
    op.drop_constraint("ck_webhook_endpoints_max_in_flight", "webhook_endpoints", type_="check")
    for column in ("throttle_at", "throttle_tokens", "throttle_rate", "max_in_flight"):
        op.drop_column("webhook_endpoints", column)
