"""Tenant schema: agent groups (several agents serving one group queue).

Revision ID: t0004
Revises: t0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "t0004"
down_revision: str | Sequence[str] | None = "t0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ALTER TABLE is rendered without the schema translate map, so it names the physical schema.
    physical = context.config.attributes["target"].schema
    op.add_column("agents", sa.Column("group_id", sa.String(63), nullable=True), schema=physical)
    op.add_column("enrollment_tokens", sa.Column("group_id", sa.String(63), nullable=True), schema=physical)


def downgrade() -> None:
    physical = context.config.attributes["target"].schema
    with op.batch_alter_table("enrollment_tokens", schema=physical) as batch:
        batch.drop_column("group_id")
    with op.batch_alter_table("agents", schema=physical) as batch:
        batch.drop_column("group_id")
