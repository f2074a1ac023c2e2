"""ORM models of Mode 2 registrations: a tenant's custom APIs and the immutable SDK versions of each.

Kept apart from :mod:`activities.metadata._models` so each module stays one family of tables;
both share :class:`TenantBase`, so one tenant migration branch creates them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from activities.metadata._models import TenantBase, TenantScoped, new_id, utcnow


class Api(TenantScoped, TenantBase):
    """A registered custom API (an aggregator) of a tenant; its secret lives in the secret store.

    ``current_version`` is the SDK version new definitions get when they name the API without a
    version; definitions that pin a version keep it, and a breaking version never becomes
    current unless the user accepts it.
    """

    __tablename__ = "apis"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        CheckConstraint("accessibility IN ('local', 'internet', 'both')", name="accessibility"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(63))
    base_url: Mapped[str] = mapped_column(String(2048))
    spec_url: Mapped[str | None] = mapped_column(String(2048))
    auth: Mapped[dict[str, Any]] = mapped_column()
    """``sdkgen.model.ApiAuth`` as JSON: the scheme and its public parts, never the secret."""
    secret_ref: Mapped[str | None] = mapped_column(String(36))
    """Id of the credential in the tenant's secret store (API key, password, token, client secret)."""
    accessibility: Mapped[str] = mapped_column(String(8))
    agent_id: Mapped[str | None] = mapped_column(String(63))
    """Local APIs: the agent (or agent group) inside the customer network that reaches them."""
    agent_credential: Mapped[str | None] = mapped_column(String(255))
    """Local APIs: the name the agent's vault keeps the API's secret under (None: the API's name)."""
    writable_operations: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Operation ids the user granted write (non-safe methods); empty: the API is read-only."""
    current_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiVersion(TenantScoped, TenantBase):
    """One immutable SDK version of an API: the spec it came from, its operations and its artifacts."""

    __tablename__ = "api_versions"
    __table_args__ = (UniqueConstraint("tenant_id", "api_id", "version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    api_id: Mapped[str] = mapped_column(String(36), ForeignKey(Api.id))
    version: Mapped[int] = mapped_column(Integer)
    spec_sha256: Mapped[str] = mapped_column(String(64))
    description: Mapped[dict[str, Any]] = mapped_column()
    """``sdkgen.model.ApiDescription.model_dump(mode="json")``."""
    artifacts: Mapped[dict[str, Any]] = mapped_column()
    """``sdkgen.build.SdkArtifacts`` as JSON: refs of spec, source, component and precompiled copies."""
    operations_count: Mapped[int] = mapped_column(Integer)
    refused_count: Mapped[int] = mapped_column(Integer)
    breaking: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Whether this version breaks callers of the one before it (always false for version 1)."""
    diff_summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The diff against the previous version: counts and the changes, breaking first."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
