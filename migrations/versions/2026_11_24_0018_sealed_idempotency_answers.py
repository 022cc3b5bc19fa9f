"""Stored ``Idempotency-Key`` answers are sealed and replayed only to the key that made them.

Records stored before were plain (an answer may hold a new API key or webhook signing
secret) and their request hash did not cover the API key, so any key of the organization
could replay them. They are deleted rather than kept for their last hours: a client
retrying one of them within the TTL runs its request again, as with an expired key.

Revision ID: 0018_sealed_idempotency_answers
Revises: 0017_latest_off_kpis
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018_sealed_idempotency_answers"
down_revision: str | None = "0017_latest_off_kpis"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DELETE FROM idempotency_keys")


def downgrade() -> None:
    # Sealed answers replay only through the code that seals them.
    op.execute("DELETE FROM idempotency_keys")
