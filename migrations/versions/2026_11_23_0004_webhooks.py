"""Webhook endpoints, secrets, the delivery queue and attempt log; fan-out of events.

Revision ID: 0004_webhooks
Revises: 0003_kr_kpi
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_webhooks"
down_revision: str | None = "0003_kr_kpi"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every event becomes one message per subscribed, enabled endpoint of its organization, in the
# transaction that writes the event, whichever code path wrote it. ``pg_notify`` is delivered
# at commit (merged per transaction) and only wakes dispatchers early: they poll as well.
FAN_OUT_FUNCTION = """
CREATE FUNCTION events_fan_out() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.suppressed_reason IS NOT NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO webhook_messages (organization_id, event_id, endpoint_id)
    SELECT NEW.organization_id, NEW.id, e.id
    FROM webhook_endpoints e
    WHERE e.organization_id = NEW.organization_id
      AND NOT e.disabled
      AND (NEW.endpoint_id IS NULL OR e.id = NEW.endpoint_id)
      AND (
        NEW.endpoint_id IS NOT NULL
        OR cardinality(e.event_types) = 0
        OR EXISTS (
          SELECT 1 FROM unnest(e.event_types) AS pattern
          WHERE pattern = NEW.type
             OR pattern = '*'
             OR (right(pattern, 2) = '.*'
                 AND left(NEW.type, length(pattern) - 1) = left(pattern, length(pattern) - 1))
        )
      );
    IF FOUND THEN
        PERFORM pg_notify('webhook_messages', '');
    END IF;
    RETURN NULL;
END;
$$;
"""


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column(
            "event_types",
            postgresql.ARRAY(sa.String(length=100)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(length=32), nullable=True),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_webhook_endpoints_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_index(
        op.f("ix_webhook_endpoints_organization_id"), "webhook_endpoints", ["organization_id"]
    )
    op.create_table(
        "webhook_secrets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column("secret", sa.String(length=120), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_webhook_secrets_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_secrets")),
    )
    op.create_index(op.f("ix_webhook_secrets_endpoint_id"), "webhook_secrets", ["endpoint_id"])
    op.add_column("events", sa.Column("endpoint_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_events_endpoint_id_webhook_endpoints"),
        "events",
        "webhook_endpoints",
        ["endpoint_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_index(
        "ix_events_org_type_created", "events", ["organization_id", "type", "created_at"]
    )
    op.create_table(
        "webhook_messages",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("trigger", sa.String(length=16), server_default="scheduled", nullable=False),
        sa.Column("attempt_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("retry_index", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_webhook_messages_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_webhook_messages_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_webhook_messages_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_messages")),
        sa.UniqueConstraint(
            "event_id", "endpoint_id", name=op.f("uq_webhook_messages_event_id_endpoint_id")
        ),
    )
    op.create_index(
        "ix_webhook_messages_due",
        "webhook_messages",
        ["next_attempt_at"],
        postgresql_where=sa.text("status IN ('pending', 'retrying')"),
    )
    op.create_index(
        "ix_webhook_messages_endpoint_created", "webhook_messages", ["endpoint_id", "created_at"]
    )
    op.create_index(
        op.f("ix_webhook_messages_organization_id"), "webhook_messages", ["organization_id"]
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column("attempt_number", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("error_class", sa.String(length=32), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_webhook_attempts_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["webhook_messages.id"],
            name=op.f("fk_webhook_attempts_message_id_webhook_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_webhook_attempts_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
    )
    op.create_index(
        "ix_webhook_attempts_endpoint_started",
        "webhook_attempts",
        ["endpoint_id", "started_at", "id"],
    )
    op.create_index("ix_webhook_attempts_message", "webhook_attempts", ["message_id"])
    op.create_index(
        op.f("ix_webhook_attempts_organization_id"), "webhook_attempts", ["organization_id"]
    )
    op.execute(FAN_OUT_FUNCTION)
    op.execute(
        "CREATE TRIGGER events_fan_out AFTER INSERT ON events "
        "FOR EACH ROW EXECUTE FUNCTION events_fan_out()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER events_fan_out ON events")
    op.execute("DROP FUNCTION events_fan_out()")
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_messages")
    op.drop_index("ix_events_org_type_created", table_name="events")
    op.drop_constraint(
        op.f("fk_events_endpoint_id_webhook_endpoints"), "events", type_="foreignkey"
    )
    op.drop_column("events", "endpoint_id")
    op.drop_table("webhook_secrets")
    op.drop_table("webhook_endpoints")
