"""Tenant schema: registered custom APIs (Mode 2) and their SDK versions.

Revision ID: t0006
Revises: t0005
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0006"
down_revision: str | Sequence[str] | None = "t0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "tenant"  # placeholder, mapped by schema_translate_map


def upgrade() -> None:
    op.create_table(
        "apis",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("base_url", sa.String(2048), nullable=False),
        sa.Column("spec_url", sa.String(2048), nullable=True),
        sa.Column("auth", sa.JSON(), nullable=False),
        sa.Column("secret_ref", sa.String(36), nullable=True),
        sa.Column("accessibility", sa.String(8), nullable=False),
        sa.Column("agent_id", sa.String(63), nullable=True),
        sa.Column("writable_operations", sa.JSON(), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_apis"),
        sa.UniqueConstraint("tenant_id", "name", name="uq_apis_tenant_id_name"),
        sa.CheckConstraint("accessibility IN ('local', 'internet', 'both')", name="ck_apis_accessibility"),
        schema=SCHEMA,
    )
    op.create_index("ix_apis_tenant_id", "apis", ["tenant_id"], schema=SCHEMA)

    op.create_table(
        "api_versions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("api_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("spec_sha256", sa.String(64), nullable=False),
        sa.Column("description", sa.JSON(), nullable=False),
        sa.Column("artifacts", sa.JSON(), nullable=False),
        sa.Column("operations_count", sa.Integer(), nullable=False),
        sa.Column("refused_count", sa.Integer(), nullable=False),
        sa.Column("breaking", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("diff_summary", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_api_versions"),
        sa.UniqueConstraint(
            "tenant_id", "api_id", "version", name="uq_api_versions_tenant_id_api_id_version"
        ),
        sa.ForeignKeyConstraint(["api_id"], [f"{SCHEMA}.apis.id"], name="fk_api_versions_api_id_apis"),
        schema=SCHEMA,
    )
    op.create_index("ix_api_versions_tenant_id", "api_versions", ["tenant_id"], schema=SCHEMA)


def downgrade() -> None:
    for table in ("api_versions", "apis"):
        op.drop_table(table, schema=SCHEMA)
