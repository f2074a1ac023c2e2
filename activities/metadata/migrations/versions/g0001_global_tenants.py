"""Global schema: the tenants table.

Revision ID: g0001
Revises:
Create Date: 2025-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "g0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("global",)
depends_on: str | Sequence[str] | None = None

SCHEMA = "global"  # placeholder, mapped by schema_translate_map


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(63), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("tier", sa.String(32), nullable=False, server_default="free"),
        sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
        schema=SCHEMA,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.create_check_constraint(
            "ck_tenants_id_format", "tenants", "id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'", schema=SCHEMA
        )


def downgrade() -> None:
    op.drop_table("tenants", schema=SCHEMA)
