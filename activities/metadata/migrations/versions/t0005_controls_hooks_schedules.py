"""Tenant schema: control flags, webhooks and their deliveries, schedules.

Revision ID: t0005
Revises: t0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0005"
down_revision: str | Sequence[str] | None = "t0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "tenant"  # placeholder, mapped by schema_translate_map


def upgrade() -> None:
    op.create_table(
        "control_flags",
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "scope", "name", name="pk_control_flags"),
        sa.CheckConstraint("scope IN ('connection', 'agent')", name="ck_control_flags_scope"),
        schema=SCHEMA,
    )

    op.create_table(
        "webhooks",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("definition_id", sa.String(36), nullable=False),
        sa.Column("secret_ref", sa.String(36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhooks"),
        sa.UniqueConstraint("tenant_id", "name", name="uq_webhooks_tenant_id_name"),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            [f"{SCHEMA}.workflow_definitions.id"],
            name="fk_webhooks_definition_id_workflow_definitions",
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_webhooks_tenant_id", "webhooks", ["tenant_id"], schema=SCHEMA)

    op.create_table(
        "webhook_deliveries",
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("hook_id", sa.String(36), nullable=False),
        sa.Column("delivery_id", sa.String(200), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("workflow_id", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "hook_id", "delivery_id", name="pk_webhook_deliveries"),
        schema=SCHEMA,
    )

    op.create_table(
        "schedules",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("definition_id", sa.String(36), nullable=False),
        sa.Column("schedule_id", sa.String(255), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_schedules"),
        sa.UniqueConstraint("tenant_id", "name", name="uq_schedules_tenant_id_name"),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            [f"{SCHEMA}.workflow_definitions.id"],
            name="fk_schedules_definition_id_workflow_definitions",
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_schedules_tenant_id", "schedules", ["tenant_id"], schema=SCHEMA)


def downgrade() -> None:
    for table in ("schedules", "webhook_deliveries", "webhooks", "control_flags"):
        op.drop_table(table, schema=SCHEMA)
