"""KPIs, readings (range-partitioned by observed_at), alert rules and states, the events
outbox, and KPI limits on API keys.

Revision ID: 0002_kpis
Revises: 0001_foundation
Create Date: 2026-11-23 03:15:17.944583
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_kpis"
down_revision: str | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("fingerprint", sa.String(length=80), nullable=True),
        sa.Column("sequence", sa.BigInteger(), nullable=True),
        sa.Column("suppressed_reason", sa.String(length=32), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_events_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("fingerprint", "sequence", name=op.f("uq_events_fingerprint_sequence")),
    )
    op.create_index(
        "ix_events_org_created", "events", ["organization_id", "created_at", "id"], unique=False
    )
    op.create_table(
        "kpis",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=10000), nullable=True),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("direction", sa.String(length=20), nullable=False),
        sa.Column("target", sa.Float(), nullable=True),
        sa.Column("latest_value", sa.Float(), nullable=True),
        sa.Column("latest_observed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_kpis_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["people.id"], name=op.f("fk_kpis_owner_id_people"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_kpis_team_id_teams"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpis")),
        sa.UniqueConstraint("organization_id", "key", name=op.f("uq_kpis_organization_id_key")),
    )
    op.create_index(op.f("ix_kpis_organization_id"), "kpis", ["organization_id"], unique=False)
    op.create_index(op.f("ix_kpis_owner_id"), "kpis", ["owner_id"], unique=False)
    op.create_index(op.f("ix_kpis_team_id"), "kpis", ["team_id"], unique=False)
    op.create_table(
        "alert_rules",
        sa.Column("kpi_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("operator", sa.String(length=8), nullable=False),
        sa.Column("warning", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("critical", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("warning_recovery", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("critical_recovery", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("aggregation", sa.String(length=8), nullable=False),
        sa.Column("window", sa.Interval(), nullable=False),
        sa.Column("min_samples", sa.Integer(), nullable=False),
        sa.Column("pending_for", sa.Interval(), nullable=False),
        sa.Column("keep_firing_for", sa.Interval(), nullable=False),
        sa.Column("no_data_after", sa.Interval(), nullable=True),
        sa.Column("on_no_data", sa.String(length=16), nullable=False),
        sa.Column("max_lateness", sa.Interval(), nullable=False),
        sa.Column("renotify_interval", sa.Interval(), nullable=True),
        sa.Column("muted_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("labels", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("annotations", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["kpi_id"], ["kpis.id"], name=op.f("fk_alert_rules_kpi_id_kpis"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_alert_rules_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rules")),
    )
    op.create_index(op.f("ix_alert_rules_kpi_id"), "alert_rules", ["kpi_id"], unique=False)
    op.create_index(
        op.f("ix_alert_rules_organization_id"), "alert_rules", ["organization_id"], unique=False
    )
    op.create_table(
        "kpi_readings",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("kpi_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["kpi_id"], ["kpis.id"], name=op.f("fk_kpi_readings_kpi_id_kpis"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_kpi_readings_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("kpi_id", "source", "observed_at", name=op.f("pk_kpi_readings")),
        postgresql_partition_by="RANGE (observed_at)",
    )
    # Monthly partitions can be attached later; until then rows land in the default one.
    op.execute("CREATE TABLE kpi_readings_default PARTITION OF kpi_readings DEFAULT")
    op.create_index(
        "ix_kpi_readings_kpi_observed", "kpi_readings", ["kpi_id", "observed_at"], unique=False
    )
    op.create_table(
        "alert_states",
        sa.Column("fingerprint", sa.String(length=80), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.Uuid(), nullable=False),
        sa.Column("kpi_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=True),
        sa.Column("alert_id", sa.String(length=40), nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pending_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recovering_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_eval_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.Column("last_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("renotify_count", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["kpi_id"], ["kpis.id"], name=op.f("fk_alert_states_kpi_id_kpis"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_alert_states_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["alert_rules.id"],
            name=op.f("fk_alert_states_rule_id_alert_rules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_alert_states")),
        sa.UniqueConstraint("rule_id", name=op.f("uq_alert_states_rule_id")),
    )
    op.create_index(op.f("ix_alert_states_kpi_id"), "alert_states", ["kpi_id"], unique=False)
    op.create_index(
        op.f("ix_alert_states_organization_id"), "alert_states", ["organization_id"], unique=False
    )
    op.add_column("api_keys", sa.Column("kpi_ids", postgresql.ARRAY(sa.Uuid()), nullable=True))


def downgrade() -> None:
    op.drop_column("api_keys", "kpi_ids")
    op.drop_index(op.f("ix_alert_states_organization_id"), table_name="alert_states")
    op.drop_index(op.f("ix_alert_states_kpi_id"), table_name="alert_states")
    op.drop_table("alert_states")
    op.drop_index("ix_kpi_readings_kpi_observed", table_name="kpi_readings")
    op.drop_table("kpi_readings")
    op.drop_index(op.f("ix_alert_rules_organization_id"), table_name="alert_rules")
    op.drop_index(op.f("ix_alert_rules_kpi_id"), table_name="alert_rules")
    op.drop_table("alert_rules")
    op.drop_index(op.f("ix_kpis_team_id"), table_name="kpis")
    op.drop_index(op.f("ix_kpis_owner_id"), table_name="kpis")
    op.drop_index(op.f("ix_kpis_organization_id"), table_name="kpis")
    op.drop_table("kpis")
    op.drop_index("ix_events_org_created", table_name="events")
    op.drop_table("events")
