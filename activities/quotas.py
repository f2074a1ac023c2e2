"""Tier lookups in the metadata store, for the processes that enforce quotas (API, cloud workers, gateway).

The agent never imports this module (it needs the metadata store, a cloud-side dependency).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select

from activities.buffer import BufferQuota
from activities.metadata import Tenant, global_session
from activities.tiers import DEFAULT_TIER, Tier, tier_of_record


def tenant_tier(engine: Engine, tenant: str) -> Tier:
    """The tier of a provisioned tenant (the free tier for an unknown tenant: the tightest quotas)."""
    with global_session(engine) as session:
        stored = session.scalar(select(Tenant.tier).where(Tenant.id == tenant))
    return tier_of_record(stored or DEFAULT_TIER)


def tenant_tiers(engine: Engine) -> dict[str, str]:
    """Every provisioned tenant's stored tier name, by tenant id."""
    with global_session(engine) as session:
        return {row.id: row.tier for row in session.execute(select(Tenant.id, Tenant.tier))}


def tier_buffer_quota(engine: Engine, *, ttl: timedelta) -> BufferQuota:
    """The buffer quota of each tenant's tier, looked up at every chunk (a tier change applies at once)."""
    return BufferQuota(limit_of=lambda tenant: tenant_tier(engine, tenant).buffer_bytes, ttl=ttl)
