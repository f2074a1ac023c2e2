"""Tenant schema: the agent-vault credential name of a local API.

Revision ID: t0007
Revises: t0006
Create Date: 2026-12-12
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "t0007"
down_revision: str | Sequence[str] | None = "t0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ALTER TABLE is rendered without the schema translate map, so it names the physical schema.
    physical = context.config.attributes["target"].schema
    op.add_column("apis", sa.Column("agent_credential", sa.String(255), nullable=True), schema=physical)


def downgrade() -> None:
    physical = context.config.attributes["target"].schema
    with op.batch_alter_table("apis", schema=physical) as batch:
        batch.drop_column("agent_credential")
