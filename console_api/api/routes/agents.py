"""Agents of the caller's tenant: presence, one-time enrollment tokens, revocation.

Enrollment and revocation go through the gateway's own helpers, which own those rows' writes.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException
from sqlalchemy import select

from activities.metadata import Agent, TenantSession, tenant_session
from activities.metadata._models import as_utc, utcnow
from console_api.api.deps import AdminPrincipal, ContextDep, CurrentPrincipal, SessionDep
from console_api.api.problems import error_responses
from console_api.api.quotas import require_agent_slot
from console_api.api.schemas import AgentPublic, AgentsPublic, EnrollmentTokenCreate, EnrollmentTokenPublic
from console_api.gateway import issue_enrollment_token, revoke_agent
from console_api.presence import agent_state
from workflows.queues import agent_queue

router = APIRouter(prefix="/agents", tags=["agents"], responses=error_responses(401))


def _public(row: Agent, *, online_within: float) -> AgentPublic:
    beat = as_utc(row.last_heartbeat) if row.last_heartbeat is not None else None
    state = agent_state(row, utcnow(), within=timedelta(seconds=online_within))
    return AgentPublic(
        id=row.id,
        agent_id=row.connector_id,
        group=row.group,
        name=row.name,
        status=row.status,
        online=state == "online",
        state=state,
        endpoints=list((row.endpoints or {}).get("names", [])),
        last_heartbeat=beat,
        version=row.version,
        host=row.host,
        queue=agent_queue(row.tenant_id, row.group),
        revoked_at=row.revoked_at,
    )


def _get(session: TenantSession, agent_row_id: str) -> Agent:
    row = session.get(Agent, agent_row_id)
    if row is None or row.tenant_id != session.tenant_id:
        raise HTTPException(404, f"agent {agent_row_id!r} not found")
    return row


@router.get("", response_model=AgentsPublic)
def list_agents(_caller: CurrentPrincipal, session: SessionDep, ctx: ContextDep) -> AgentsPublic:
    """The tenant's enrolled agents with their presence."""
    rows = session.scalars(select(Agent).order_by(Agent.connector_id)).all()
    data = [_public(r, online_within=ctx.settings.agent_online_seconds) for r in rows]
    return AgentsPublic(data=data, count=len(data))


@router.get("/{agent_row_id}", response_model=AgentPublic, responses=error_responses(404))
def read_agent(
    agent_row_id: str, _caller: CurrentPrincipal, session: SessionDep, ctx: ContextDep
) -> AgentPublic:
    """One agent."""
    return _public(_get(session, agent_row_id), online_within=ctx.settings.agent_online_seconds)


@router.post(
    "/enrollment-tokens",
    response_model=EnrollmentTokenPublic,
    status_code=201,
    responses=error_responses(403, 422, 429),
)
def create_enrollment_token(
    body: EnrollmentTokenCreate, admin: AdminPrincipal, ctx: ContextDep
) -> EnrollmentTokenPublic:
    """A one-time token with which the agent ``agent_id`` enrolls (``vsc-agent enroll``); shown once.

    With ``group_id`` the agent joins that group: every member serves the group's queue.
    A token for a new agent id beyond the tier's agent count is refused with 429.
    """
    require_agent_slot(ctx.engine, tenant=admin.tenant, tier=admin.tier, agent_id=body.agent_id)
    ttl = timedelta(minutes=body.ttl_minutes or ctx.settings.enrollment_ttl_minutes)
    token = issue_enrollment_token(
        ctx.engine, tenant_id=admin.tenant, agent_id=body.agent_id, ttl=ttl, group_id=body.group_id
    )
    return EnrollmentTokenPublic(
        agent_id=body.agent_id, group=body.group_id or body.agent_id, token=token, expires_at=utcnow() + ttl
    )


@router.post("/{agent_row_id}/revoke", response_model=AgentPublic, responses=error_responses(403, 404))
def revoke(agent_row_id: str, admin: AdminPrincipal, ctx: ContextDep) -> AgentPublic:
    """Revoke an agent: gateways refuse its sessions and close live ones."""
    # Separate transactions around the gateway's write, so the answer shows the revocation.
    with tenant_session(ctx.engine, admin.tenant) as session:
        connector_id = _get(session, agent_row_id).connector_id
    revoke_agent(ctx.engine, tenant_id=admin.tenant, agent_id=connector_id)
    with tenant_session(ctx.engine, admin.tenant) as session:
        return _public(_get(session, agent_row_id), online_within=ctx.settings.agent_online_seconds)
