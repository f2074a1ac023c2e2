"""Schemas of tenants."""

from __future__ import annotations

from pydantic import BaseModel

from console_api.api.schemas._common import (
    Moment,
)


class QuotasPublic(BaseModel):
    """What the tenant's tier allows (read-only: tiers are set by the platform's operator)."""

    concurrent_executions: int
    buffer_bytes: int
    api_calls_per_minute: int
    agents: int
    worker_pool: str


class UsagePublic(BaseModel):
    """The usage that is cheap to report here; running executions are at ``GET /executions``."""

    agents: int
    """Enrolled, unrevoked agents plus outstanding enrollment tokens, by distinct agent id."""
    api_calls_remaining: int
    """Requests this API process still accepts from the tenant right now (after this one)."""


class TenantPublic(BaseModel):
    """The caller's tenant."""

    id: str
    name: str
    tier: str
    paused: bool
    created_at: Moment
    cloud_queue: str
    quotas: QuotasPublic
    usage: UsagePublic
