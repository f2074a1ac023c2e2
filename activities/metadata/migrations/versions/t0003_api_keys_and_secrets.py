"""Tenant schema: API keys, sealed connection secrets, credential references on connections.

Revision ID: t0003
Revises: t0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "t0003"
down_revision: str | Sequence[str] | None = "t0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "tenant"  # placeholder, mapped by schema_translate_map


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("prefix", name="uq_api_keys_prefix"),
        sa.CheckConstraint("role IN ('admin', 'operator', 'viewer')", name="ck_api_keys_role"),
        schema=SCHEMA,
    )
    op.create_index("ix_api_keys_tenant_id", "api_keys", ["tenant_id"], schema=SCHEMA)

    op.create_table(
        "sealed_secrets",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("nonce", sa.String(32), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sealed_secrets"),
        schema=SCHEMA,
    )
    op.create_index("ix_sealed_secrets_tenant_id", "sealed_secrets", ["tenant_id"], schema=SCHEMA)

    # ALTER TABLE is rendered without the schema translate map, so it names the physical schema.
    physical = context.config.attributes["target"].schema
    op.add_column("connections", sa.Column("credential_name", sa.String(200), nullable=True), schema=physical)
    op.add_column("connections", sa.Column("secret_ref", sa.String(36), nullable=True), schema=physical)


def downgrade() -> None:
    with op.batch_alter_table("connections", schema=context.config.attributes["target"].schema) as batch:
        batch.drop_column("secret_ref")
        batch.drop_column("credential_name")
    op.drop_table("sealed_secrets", schema=SCHEMA)
    op.drop_table("api_keys", schema=SCHEMA)
