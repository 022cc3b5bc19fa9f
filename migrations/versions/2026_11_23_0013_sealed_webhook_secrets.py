"""Webhook signing secrets sealed at rest (AES-256-GCM, see service/webhooks/secret_box.py).

Existing plain secrets are sealed with the configured key; downgrade opens them again.

Revision ID: 0013_sealed_secrets
Revises: 0009_alignment_speed
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service.config import get_settings
from service.webhooks.secret_box import PREFIX, box_from_settings

revision: str = "0013_sealed_secrets"
down_revision: str | None = "0009_alignment_speed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SELECT = sa.text("SELECT id, endpoint_id, secret FROM webhook_secrets")
UPDATE = sa.text("UPDATE webhook_secrets SET secret = :secret WHERE id = :id")


def upgrade() -> None:
    op.alter_column("webhook_secrets", "secret", type_=sa.Text(), existing_nullable=False)
    bind = op.get_bind()
    rows = [r for r in bind.execute(SELECT) if not r.secret.startswith(PREFIX + ".")]
    if rows:
        box = box_from_settings(get_settings())
        for row in rows:
            bind.execute(UPDATE, {"id": row.id, "secret": box.seal(row.secret, row.endpoint_id)})


def downgrade() -> None:
    bind = op.get_bind()
    rows = [r for r in bind.execute(SELECT) if r.secret.startswith(PREFIX + ".")]
    if rows:
        box = box_from_settings(get_settings())
        for row in rows:
            bind.execute(UPDATE, {"id": row.id, "secret": box.open(row.secret, row.endpoint_id)})
    op.alter_column(
        "webhook_secrets", "secret", type_=sa.String(length=120), existing_nullable=False
    )
