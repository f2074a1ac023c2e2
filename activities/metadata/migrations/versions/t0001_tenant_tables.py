"""Tenant schema: connections, agents, definitions, executions, sync state, audit log.

Revision ID: t0001
Revises:
Create Date: 2025-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "t0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("tenant",)
depends_on: str | Sequence[str] | None = None

SCHEMA = "tenant"  # placeholder, mapped by schema_translate_map
EVENTS = "workflow_execution_events"


def _tenant_id() -> sa.Column:
    return sa.Column("tenant_id", sa.String(63), nullable=False)


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "connections",
        sa.Column("id", sa.String(36), nullable=False),
        _tenant_id(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("location", sa.String(8), nullable=False),
        sa.Column("agent_id", sa.String(36), nullable=True),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("write_granted", sa.Boolean(), nullable=False, server_default=sa.false()),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_connections"),
        sa.UniqueConstraint("tenant_id", "name", name="uq_connections_tenant_id_name"),
        sa.CheckConstraint("location IN ('local', 'cloud')", name="ck_connections_location"),
        schema=SCHEMA,
    )
    op.create_index("ix_connections_tenant_id", "connections", ["tenant_id"], schema=SCHEMA)

    op.create_table(
        "agents",
        sa.Column("id", sa.String(36), nullable=False),
        _tenant_id(),
        sa.Column("connector_id", sa.String(63), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=True),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        _ts("last_heartbeat", nullable=True),
        sa.Column("endpoints", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        _ts("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_agents"),
        sa.UniqueConstraint("tenant_id", "connector_id", name="uq_agents_tenant_id_connector_id"),
        schema=SCHEMA,
    )
    op.create_index("ix_agents_tenant_id", "agents", ["tenant_id"], schema=SCHEMA)

    op.create_table(
        "workflow_definitions",
        sa.Column("id", sa.String(36), nullable=False),
        _tenant_id(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("pattern", sa.String(64), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_workflow_definitions"),
        sa.UniqueConstraint(
            "tenant_id", "name", "version", name="uq_workflow_definitions_tenant_id_name_version"
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_workflow_definitions_tenant_id", "workflow_definitions", ["tenant_id"], schema=SCHEMA)

    op.create_table(
        "executions",
        sa.Column("id", sa.String(36), nullable=False),
        _tenant_id(),
        sa.Column("workflow_id", sa.String(255), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("workflow_type", sa.String(128), nullable=False),
        sa.Column("task_queue", sa.String(255), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        _ts("started_at"),
        _ts("closed_at", nullable=True),
        sa.Column("definition_id", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_executions"),
        sa.UniqueConstraint(
            "tenant_id", "workflow_id", "run_id", name="uq_executions_tenant_id_workflow_id_run_id"
        ),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            [f"{SCHEMA}.workflow_definitions.id"],
            name="fk_executions_definition_id_workflow_definitions",
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_executions_tenant_id", "executions", ["tenant_id"], schema=SCHEMA)

    op.create_table(
        "sync_state",
        _tenant_id(),
        sa.Column("pipeline", sa.String(200), nullable=False),
        sa.Column("table_name", sa.String(255), nullable=False),
        sa.Column("cursor", sa.JSON(), nullable=False),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", "pipeline", "table_name", name="pk_sync_state"),
        schema=SCHEMA,
    )

    op.create_table(
        EVENTS,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True),
        _tenant_id(),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        _ts("occurred_at"),
        sa.Column("workflow_id", sa.String(255), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("activity", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(512), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{EVENTS}"),
        sa.UniqueConstraint("tenant_id", "seq", name=f"uq_{EVENTS}_tenant_id_seq"),
        schema=SCHEMA,
    )
    op.create_index(f"ix_{EVENTS}_tenant_id_workflow_id", EVENTS, ["tenant_id", "workflow_id"], schema=SCHEMA)
    op.create_index(f"ix_{EVENTS}_tenant_id_occurred_at", EVENTS, ["tenant_id", "occurred_at"], schema=SCHEMA)

    op.create_table(
        "audit_heads",
        _tenant_id(),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_audit_heads"),
        schema=SCHEMA,
    )
    _forbid_event_mutation()


def _forbid_event_mutation() -> None:
    # The audit log is append-only in the database itself, not just in the writer: even a
    # buggy or compromised caller with the app's credentials cannot rewrite history.
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        schema = bind.dialect.identifier_preparer.quote_schema(context.config.attributes["target"].schema)
        op.execute(
            f"""
            CREATE FUNCTION {schema}.vsc_forbid_event_mutation() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{EVENTS} is append-only: % refused', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END
            $$
            """
        )
        op.execute(
            f"CREATE TRIGGER {EVENTS}_append_only BEFORE UPDATE OR DELETE ON {schema}.{EVENTS} "
            f"FOR EACH ROW EXECUTE FUNCTION {schema}.vsc_forbid_event_mutation()"
        )
        op.execute(
            f"CREATE TRIGGER {EVENTS}_no_truncate BEFORE TRUNCATE ON {schema}.{EVENTS} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {schema}.vsc_forbid_event_mutation()"
        )
        op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {schema}.{EVENTS} FROM PUBLIC")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {EVENTS}_no_{verb.lower()} BEFORE {verb} ON {EVENTS} "
                f"BEGIN SELECT RAISE(ABORT, '{EVENTS} is append-only: {verb} refused'); END"
            )


def downgrade() -> None:
    for table in ("audit_heads", EVENTS, "sync_state", "executions", "workflow_definitions", "agents"):
        op.drop_table(table, schema=SCHEMA)
    op.drop_table("connections", schema=SCHEMA)
    if op.get_bind().dialect.name == "postgresql":
        schema = context.config.attributes["target"].schema
        op.execute(f'DROP FUNCTION IF EXISTS "{schema}".vsc_forbid_event_mutation()')
