"""Alignment reads: key-result weight sums kept on the objective, a covering edge index.

``objectives.kr_weight`` is ``sum(key_results.weight)`` of the objective, kept current by
triggers on ``key_results`` in the transaction of every write that changes it (whatever code
path or ``COPY`` wrote it), so a tree or forest reads it with the objective row instead of
one look-up per node. ``ix_objective_links_parent_covering`` lets the edge walk and each
node's child links come from the index alone.

Revision ID: 0009_alignment_speed
Revises: 0008_ingest_speed
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_alignment_speed"
down_revision: str | None = "0008_ingest_speed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The objectives are locked first, then summed in a second statement: under READ COMMITTED
# that statement's snapshot sees whatever a concurrent writer committed before releasing the
# lock, so two transactions adding key results to one objective cannot lose either's weight.
# The sum is recomputed rather than incremented, so it is exactly sum(weight), as before.
REFRESH_FUNCTION = """
CREATE FUNCTION objectives_refresh_kr_weight(ids uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM objectives WHERE id = ANY(ids) ORDER BY id FOR NO KEY UPDATE;
    UPDATE objectives o
    SET kr_weight = coalesce(
        (SELECT sum(k.weight) FROM key_results k WHERE k.objective_id = o.id), 0)
    WHERE o.id = ANY(ids)
      AND o.kr_weight IS DISTINCT FROM coalesce(
        (SELECT sum(k.weight) FROM key_results k WHERE k.objective_id = o.id), 0);
END $$;
"""

# Inserts and deletes: once per statement (a COPY of 300,000 key results is one refresh).
STATEMENT_FUNCTION = """
CREATE FUNCTION key_results_kr_weight_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM objectives_refresh_kr_weight(ARRAY(SELECT DISTINCT objective_id FROM changed));
    RETURN NULL;
END $$;
"""

# Updates: only rows whose weight or objective changed fire it (check-ins do not).
ROW_FUNCTION = """
CREATE FUNCTION key_results_kr_weight_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM objectives_refresh_kr_weight(ARRAY[OLD.objective_id, NEW.objective_id]);
    RETURN NULL;
END $$;
"""

TRIGGERS = [
    """CREATE TRIGGER key_results_kr_weight_inserted AFTER INSERT ON key_results
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION key_results_kr_weight_changed()""",
    """CREATE TRIGGER key_results_kr_weight_deleted AFTER DELETE ON key_results
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION key_results_kr_weight_changed()""",
    """CREATE TRIGGER key_results_kr_weight_moved AFTER UPDATE OF weight, objective_id
    ON key_results FOR EACH ROW
    WHEN (OLD.weight IS DISTINCT FROM NEW.weight
          OR OLD.objective_id IS DISTINCT FROM NEW.objective_id)
    EXECUTE FUNCTION key_results_kr_weight_moved()""",
]


def upgrade() -> None:
    op.add_column(
        "objectives",
        sa.Column("kr_weight", sa.Float(), server_default="0", nullable=False),
    )
    op.execute(
        """UPDATE objectives o SET kr_weight = s.weight
        FROM (SELECT objective_id, sum(weight) AS weight FROM key_results GROUP BY 1) s
        WHERE s.objective_id = o.id"""
    )
    op.execute(REFRESH_FUNCTION)
    op.execute(STATEMENT_FUNCTION)
    op.execute(ROW_FUNCTION)
    for trigger in TRIGGERS:
        op.execute(trigger)
    op.create_index(
        "ix_objective_links_parent_covering",
        "objective_links",
        ["parent_id"],
        postgresql_include=["child_id", "weight", "kind", "organization_id"],
    )
    op.drop_index("ix_objective_links_parent_id", table_name="objective_links")


def downgrade() -> None:
    op.create_index("ix_objective_links_parent_id", "objective_links", ["parent_id"])
    op.drop_index("ix_objective_links_parent_covering", table_name="objective_links")
    for name in ("inserted", "deleted", "moved"):
        op.execute(f"DROP TRIGGER key_results_kr_weight_{name} ON key_results")
    op.execute("DROP FUNCTION key_results_kr_weight_moved()")
    op.execute("DROP FUNCTION key_results_kr_weight_changed()")
    op.execute("DROP FUNCTION objectives_refresh_kr_weight(uuid[])")
    op.drop_column("objectives", "kr_weight")
