"""What the control plane knows about agents: presence as the gateways record it."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from activities.metadata import Agent, Tenant, global_session, tenant_session
from activities.metadata._models import as_utc, utcnow

STALE_AFTER = timedelta(seconds=30)
"""A heartbeat older than this means offline even if the row says online (the gateway died)."""


class AgentPresence(BaseModel):
    """One enrolled agent as ``vsc agents list`` shows it."""

    tenant: str
    agent_id: str
    group: str
    """The agent group whose queue it serves (its own id when it is in no group)."""
    state: str
    """``online``, ``offline`` or ``revoked``."""
    last_heartbeat: datetime | None
    version: str
    host: str
    endpoints: list[str]


def _state(agent: Agent, now: datetime, *, within: timedelta = STALE_AFTER) -> str:
    if agent.revoked_at is not None:
        return "revoked"
    fresh = agent.last_heartbeat is not None and now - as_utc(agent.last_heartbeat) <= within
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
                        group=agent.group,
                        state=_state(agent, now),
                        last_heartbeat=None if agent.last_heartbeat is None else as_utc(agent.last_heartbeat),
                        version=agent.version,
                        host=agent.host,
                        endpoints=list((agent.endpoints or {}).get("names", [])),
                    )
                )
    return found


def online_members(session: Session, group: str, *, within: timedelta = STALE_AFTER) -> list[str]:
    """Connector ids of the unrevoked agents serving ``group``'s queue with a fresh heartbeat.

    ``group`` is what a workflow input names as its ``agent``: a group id, or the id of an agent
    in no group. ``session`` is a tenant session, so only that tenant's agents count.
    """
    now = utcnow()
    members = session.scalars(
        select(Agent)
        .where(func.coalesce(Agent.group_id, Agent.connector_id) == group, Agent.revoked_at.is_(None))
        .order_by(Agent.connector_id)
    )
    # Freshness is compared in Python: SQLite keeps naive timestamps, PostgreSQL aware ones.
    return [a.connector_id for a in members if _state(a, now, within=within) == "online"]
