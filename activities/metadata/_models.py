"""ORM models of the metadata store: global tables and per-tenant tables.

Tenant tables live under the ``tenant`` placeholder schema and are mapped to the tenant's
physical schema per session. Every tenant table also carries ``tenant_id`` so that the shared
SQLite file, and any query that slips past the schema map, still separates tenants.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from activities.metadata._naming import GLOBAL_PLACEHOLDER, TENANT_PLACEHOLDER

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
# SQLite only auto-increments an INTEGER PRIMARY KEY.
_BIGID = BigInteger().with_variant(Integer(), "sqlite")
_TENANT_ID = String(63)


def utcnow() -> datetime:
    """Timezone-aware now; every stored timestamp is UTC."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """Aware UTC datetime; naive values (SQLite drops the zone) are taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def new_id() -> str:
    """Random text primary key, unguessable across tenants."""
    return str(uuid.uuid4())


class GlobalBase(DeclarativeBase):
    """Base of tables in the one global schema (``vsc_global`` on PostgreSQL)."""

    metadata = MetaData(schema=GLOBAL_PLACEHOLDER, naming_convention=_NAMING)


class TenantBase(DeclarativeBase):
    """Base of tables that exist once per tenant schema."""

    metadata = MetaData(schema=TENANT_PLACEHOLDER, naming_convention=_NAMING)
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class TenantScoped:
    """Mixin of every tenant table: the ``tenant_id`` column that tenant sessions filter on.

    Tables whose key includes the tenant redeclare the column as part of their primary key.
    """

    tenant_id: Mapped[str] = mapped_column(_TENANT_ID, index=True)


class Tenant(GlobalBase):
    """A customer; its id names its schema, queues and keys."""

    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(_TENANT_ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(32), default="free", server_default="free")
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Connection(TenantScoped, TenantBase):
    """A named source or destination; ``config`` never holds secrets."""

    __tablename__ = "connections"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        CheckConstraint("location IN ('local', 'cloud')", name="location"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(64))
    location: Mapped[str] = mapped_column(String(8))
    agent_id: Mapped[str | None] = mapped_column(String(36))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    write_granted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    credential_name: Mapped[str | None] = mapped_column(String(200))
    """Agent-side connections: the name of the credential the agent holds; the secret stays there."""
    secret_ref: Mapped[str | None] = mapped_column(String(36))
    """Cloud-side connections: id of the sealed secret in the secret store."""


class ApiKey(TenantScoped, TenantBase):
    """A tenant-scoped API key; only an HMAC of the full key is stored."""

    __tablename__ = "api_keys"
    __table_args__ = (
        UniqueConstraint("prefix"),
        CheckConstraint("role IN ('admin', 'operator', 'viewer')", name="role"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[str] = mapped_column(String(32))
    """Public, unique part of the key used to find its row; rotation replaces it."""
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class SealedSecret(TenantScoped, TenantBase):
    """A connection secret sealed with one of the tenant's data keys (the local secret store)."""

    __tablename__ = "sealed_secrets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    key_id: Mapped[str] = mapped_column(String(32))
    nonce: Mapped[str] = mapped_column(String(32))
    ciphertext: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Agent(TenantScoped, TenantBase):
    """An enrolled on-premise mini connector and its last reported presence."""

    __tablename__ = "agents"
    __table_args__ = (UniqueConstraint("tenant_id", "connector_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    connector_id: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(200))
    public_key: Mapped[str | None] = mapped_column(Text)
    version: Mapped[str] = mapped_column(String(64), default="")
    host: Mapped[str] = mapped_column(String(255), default="")
    last_heartbeat: Mapped[datetime | None] = mapped_column()
    endpoints: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(32), default="offline")
    revoked_at: Mapped[datetime | None] = mapped_column()
    group_id: Mapped[str | None] = mapped_column(String(63))
    """Agent group whose queue the agent serves; ``None`` means a group of its own (its connector id)."""

    @property
    def group(self) -> str:
        """The group the agent serves: ``group_id``, else its own connector id."""
        return self.group_id or self.connector_id


class EnrollmentToken(TenantScoped, TenantBase):
    """A one-time agent enrollment token; only its sha256 is stored, so a leaked table enrolls no one."""

    __tablename__ = "enrollment_tokens"
    __table_args__ = (UniqueConstraint("token_hash"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[str] = mapped_column(String(63))
    """Connector id the token may enroll."""
    group_id: Mapped[str | None] = mapped_column(String(63))
    """Agent group the enrolled agent joins; ``None``: its own connector id."""
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkflowDefinition(TenantScoped, TenantBase):
    """An immutable, versioned workflow document."""

    __tablename__ = "workflow_definitions"
    __table_args__ = (UniqueConstraint("tenant_id", "name", "version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    pattern: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict[str, Any]] = mapped_column()
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Execution(TenantScoped, TenantBase):
    """One Temporal run started by the platform, kept for listing and audit joins."""

    __tablename__ = "executions"
    __table_args__ = (UniqueConstraint("tenant_id", "workflow_id", "run_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workflow_id: Mapped[str] = mapped_column(String(255))
    run_id: Mapped[str] = mapped_column(String(64))
    workflow_type: Mapped[str] = mapped_column(String(128))
    task_queue: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()
    definition_id: Mapped[str | None] = mapped_column(String(36), ForeignKey(WorkflowDefinition.id))


class SyncState(TenantScoped, TenantBase):
    """Incremental-sync cursor of one table in one pipeline."""

    __tablename__ = "sync_state"

    tenant_id: Mapped[str] = mapped_column(_TENANT_ID, primary_key=True)
    pipeline: Mapped[str] = mapped_column(String(200), primary_key=True)
    table_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    cursor: Mapped[dict[str, Any]] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WorkflowExecutionEvent(TenantScoped, TenantBase):
    """One append-only, hash-chained audit event; the database refuses UPDATE and DELETE."""

    __tablename__ = "workflow_execution_events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "seq"),
        Index(None, "tenant_id", "workflow_id"),
        Index(None, "tenant_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(_BIGID, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(_TENANT_ID)
    seq: Mapped[int] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime] = mapped_column()
    workflow_id: Mapped[str] = mapped_column(String(255))
    run_id: Mapped[str] = mapped_column(String(64))
    activity: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(512))
    rows: Mapped[int] = mapped_column(BigInteger)
    bytes: Mapped[int] = mapped_column(BigInteger)
    outcome: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column()
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(TenantScoped, TenantBase):
    """Per-tenant counter row: the append lock, and the witness that detects a removed tail."""

    __tablename__ = "audit_heads"

    tenant_id: Mapped[str] = mapped_column(_TENANT_ID, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ControlFlag(TenantScoped, TenantBase):
    """An emergency pause on one connection or agent (group); the tenant-wide one is ``Tenant.paused``.

    ``name`` is what workflow definitions use: a connection name, or an agent / agent group id.
    """

    __tablename__ = "control_flags"
    __table_args__ = (CheckConstraint("scope IN ('connection', 'agent')", name="scope"),)

    tenant_id: Mapped[str] = mapped_column(_TENANT_ID, primary_key=True)
    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    reason: Mapped[str] = mapped_column(String(500), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Webhook(TenantScoped, TenantBase):
    """An inbound webhook that starts or signals a definition's run; its HMAC key is in the secret store."""

    __tablename__ = "webhooks"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    definition_id: Mapped[str] = mapped_column(String(36), ForeignKey(WorkflowDefinition.id))
    secret_ref: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()


class WebhookDelivery(TenantScoped, TenantBase):
    """A delivery id already accepted for a hook: a replay of it starts nothing new."""

    __tablename__ = "webhook_deliveries"

    tenant_id: Mapped[str] = mapped_column(_TENANT_ID, primary_key=True)
    hook_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    workflow_id: Mapped[str] = mapped_column(String(255))


class Schedule(TenantScoped, TenantBase):
    """A Temporal Schedule the platform created for a definition; Temporal holds its live state."""

    __tablename__ = "schedules"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    definition_id: Mapped[str] = mapped_column(String(36), ForeignKey(WorkflowDefinition.id))
    schedule_id: Mapped[str] = mapped_column(String(255))
    """The Temporal schedule id, derived server-side (``<tenant>-<name>``)."""
    spec: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
