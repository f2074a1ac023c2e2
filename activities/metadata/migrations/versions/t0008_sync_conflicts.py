"""Tenant schema: conflicts parked by bidirectional syncs (pattern 3.4.3, manual policy).

Revision ID: t0008
Revises: t0007
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0008"
down_revision: str | Sequence[str] | None = "t0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "tenant"  # placeholder, mapped by schema_translate_map


def upgrade() -> None:
    op.create_table(
        "sync_conflicts",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("pipeline", sa.String(40), nullable=False),
        sa.Column("row_key", sa.String(1000), nullable=False),
        sa.Column("left_table", sa.String(63), nullable=False),
        sa.Column("right_table", sa.String(63), nullable=False),
        sa.Column("left_version", sa.String(100), nullable=False),
        sa.Column("right_version", sa.String(100), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("winner", sa.String(5), nullable=True),
        sa.Column("workflow_id", sa.String(255), nullable=False),
        sa.Column("resolved_by", sa.String(36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sync_conflicts"),
        sa.UniqueConstraint(
            "tenant_id", "pipeline", "row_key", name="uq_sync_conflicts_tenant_id_pipeline_row_key"
        ),
        sa.CheckConstraint("status IN ('open', 'resolved', 'applied')", name="ck_sync_conflicts_status"),
        sa.CheckConstraint("winner IS NULL OR winner IN ('left', 'right')", name="ck_sync_conflicts_winner"),
        schema=SCHEMA,
    )
    op.create_index("ix_sync_conflicts_tenant_id", "sync_conflicts", ["tenant_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_index("ix_sync_conflicts_tenant_id", table_name="sync_conflicts", schema=SCHEMA)
    op.drop_table("sync_conflicts", schema=SCHEMA)
