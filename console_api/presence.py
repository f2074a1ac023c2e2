"""What the control plane knows about agents: presence as the gateways record it."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import Engine, select

from activities.metadata import Agent, Tenant, global_session, tenant_session
from activities.metadata._models import as_utc, utcnow

STALE_AFTER = timedelta(seconds=30)
"""A heartbeat older than this means offline even if the row says online (the gateway died)."""


class AgentPresence(BaseModel):
    """One enrolled agent as ``vsc agents list`` shows it."""

    tenant: str
    agent_id: str
    state: str
    """``online``, ``offline`` or ``revoked``."""
    last_heartbeat: datetime | None
    version: str
    host: str
    endpoints: list[str]


def _state(agent: Agent, now: datetime) -> str:
    if agent.revoked_at is not None:
        return "revoked"
    fresh = agent.last_heartbeat is not None and now - as_utc(agent.last_heartbeat) <= STALE_AFTER
    return "online" if agent.status == "online" and fresh else "offline"


def list_agents(engine: Engine, *, tenant: str | None = None) -> list[AgentPresence]:
    """Every enrolled agent of ``tenant`` (default: of all tenants), sorted by tenant and id.

    Raises:
        TenantNotFoundError: ``tenant`` is not provisioned.
    """
    if tenant is None:
        with global_session(engine) as session:
            tenants = list(session.scalars(select(Tenant.id).order_by(Tenant.id)))
    else:
        tenants = [tenant]
    now = utcnow()
    found: list[AgentPresence] = []
    for tenant_id in tenants:
        with tenant_session(engine, tenant_id) as session:
            for agent in session.scalars(select(Agent).order_by(Agent.connector_id)):
                found.append(
                    AgentPresence(
                        tenant=tenant_id,
                        agent_id=agent.connector_id,
                        state=_state(agent, now),
                        last_heartbeat=None if agent.last_heartbeat is None else as_utc(agent.last_heartbeat),
                        version=agent.version,
                        host=agent.host,
                        endpoints=list((agent.endpoints or {}).get("names", [])),
                    )
                )
    return found
