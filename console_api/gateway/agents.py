"""Agent rows as the gateway uses them: proof of identity, presence and revocation."""

from __future__ import annotations

import time

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Engine, and_, select, update

from activities.errors import GatewayRefusedError, InvalidInputError, TenantNotFoundError
from activities.metadata import Agent, tenant_session
from activities.metadata._models import utcnow
from console_api.gateway.store import tenant_write
from mini_connector.tunnel.protocol import MAX_CLOCK_SKEW_S, Hello, auth_message
from mini_connector.tunnel.signer import verify_signature


class AgentIdentity(BaseModel):
    """An authenticated agent."""

    tenant: str
    agent_id: str
    group: str
    """The agent group whose queue it serves (its own id when it is in no group)."""


def authenticate(
    engine: Engine, hello: Hello, *, gateway_id: str, nonce: str, now: float | None = None
) -> AgentIdentity:
    """Check that ``hello`` was signed for this challenge by the enrolled, unrevoked agent.

    Raises:
        GatewayRefusedError: ``code`` is ``unknown_agent``, ``revoked``, ``bad_signature`` or
            ``clock_skew``.
    """
    try:
        with tenant_session(engine, hello.tenant) as session:
            agent = session.scalars(select(Agent).where(Agent.connector_id == hello.agent_id)).one_or_none()
            public_key = None if agent is None else agent.public_key
            revoked = agent is not None and agent.revoked_at is not None
            group = hello.agent_id if agent is None else agent.group
    except (InvalidInputError, TenantNotFoundError):
        public_key, revoked, group = None, False, hello.agent_id
    if public_key is None:
        raise GatewayRefusedError("no enrolled agent by that name", code="unknown_agent")
    if revoked:
        raise GatewayRefusedError("the agent was revoked", code="revoked")
    message = auth_message(
        gateway=gateway_id, nonce=nonce, tenant=hello.tenant, agent_id=hello.agent_id, ts=hello.ts
    )
    if not verify_signature(public_key_b64=public_key, signature_b64=hello.signature, data=message):
        raise GatewayRefusedError("the signature does not match the enrolled key", code="bad_signature")
    skew = abs(hello.ts - (time.time() if now is None else now))
    if skew > MAX_CLOCK_SKEW_S:
        raise GatewayRefusedError(
            f"agent clock is {int(skew)}s off (max {MAX_CLOCK_SKEW_S}s); fix the agent's time",
            code="clock_skew",
        )
    return AgentIdentity(tenant=hello.tenant, agent_id=hello.agent_id, group=group)


def _agent(identity_tenant: str, agent_id: str) -> ColumnElement[bool]:
    return and_(Agent.tenant_id == identity_tenant, Agent.connector_id == agent_id)


def mark_online(engine: Engine, identity: AgentIdentity, hello: Hello) -> None:
    """Record the agent as online with what it reported in its hello."""
    with tenant_write(engine, identity.tenant, "record agent presence") as conn:
        conn.execute(
            update(Agent)
            .where(_agent(identity.tenant, identity.agent_id))
            .values(
                status="online",
                version=hello.version,
                host=hello.host,
                endpoints={"names": hello.endpoints},
                last_heartbeat=utcnow(),
            )
        )


def touch(engine: Engine, identity: AgentIdentity) -> bool:
    """Refresh the agent's heartbeat; returns whether it has been revoked (or removed) meanwhile."""
    with tenant_write(engine, identity.tenant, "record agent presence") as conn:
        refreshed = conn.execute(
            update(Agent)
            .where(_agent(identity.tenant, identity.agent_id), Agent.revoked_at.is_(None))
            .values(last_heartbeat=utcnow())
        )
        return bool(refreshed.rowcount == 0)


def mark_offline(engine: Engine, identity: AgentIdentity) -> None:
    """Record that the agent has no live session (revoked agents keep their status)."""
    with tenant_write(engine, identity.tenant, "record agent presence") as conn:
        conn.execute(
            update(Agent)
            .where(_agent(identity.tenant, identity.agent_id), Agent.status == "online")
            .values(status="offline")
        )


def revoke_agent(engine: Engine, *, tenant_id: str, agent_id: str) -> bool:
    """Revoke an agent: new sessions are refused and gateways close its live ones.

    A gateway in this process closes them at once (see ``Gateway.revoke``); any other gateway
    within its presence interval.

    Returns:
        Whether such an agent existed.
    """
    with tenant_write(engine, tenant_id, "revoke an agent") as conn:
        revoked = conn.execute(
            update(Agent).where(_agent(tenant_id, agent_id)).values(revoked_at=utcnow(), status="revoked")
        )
        return bool(revoked.rowcount == 1)
