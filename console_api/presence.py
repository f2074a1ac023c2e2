"""What the control plane knows about agents: presence as the gateways record it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from activities.metadata import Agent
from activities.metadata._models import as_utc, utcnow

STALE_AFTER = timedelta(seconds=30)
"""A heartbeat older than this means offline even if the row says online (the gateway died)."""


def agent_state(agent: Agent, now: datetime, *, within: timedelta = STALE_AFTER) -> str:
    """``online`` (unrevoked, says online, heartbeat within ``within``), ``offline`` or ``revoked``."""
    if agent.revoked_at is not None:
        return "revoked"
    fresh = agent.last_heartbeat is not None and now - as_utc(agent.last_heartbeat) <= within
    return "online" if agent.status == "online" and fresh else "offline"


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
    return [a.connector_id for a in members if agent_state(a, now, within=within) == "online"]
