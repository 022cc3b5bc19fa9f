"""A hash index on ``objectives.id`` for the trees' look-ups by id.

A tree reads each of its objectives by id (1,147 look-ups for a 1,146-node subtree). Through
the primary key's B-tree each costs four buffer reads (root, inner page, leaf, heap); a hash
index holds its metapage in the relation cache, so one costs two (bucket, heap). Measured on
the 100,000-objective bench: the subtree statement read 5,758 buffers instead of 8,050 and
took 0.6-1.1 ms less (2.8 against 3.5 ms fast, 4.8 against 5.9 ms slow); the forest did not
change (a hash join either way). ``id`` never changes, so updates that stay on their page
(check-ins moving progress) still skip every index.

Revision ID: 0019_objective_id_hash
Revises: 0018_sealed_idempotency_answers
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019_objective_id_hash"
down_revision: str | None = "0018_sealed_idempotency_answers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_objectives_id_hash", "objectives", ["id"], postgresql_using="hash")


def downgrade() -> None:
    op.drop_index("ix_objectives_id_hash", table_name="objectives")
