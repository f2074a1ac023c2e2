"""Control flags and the emergency stop: pause or resume a tenant, a connection or an agent.

A flip is written to the metadata store (the truth every run reads before each step), audited,
and then signalled (``pause`` / ``resume``) to every running run of the tenant, found through
Temporal visibility on the tenant's cloud queue; each run decides from its own input whether
the flag concerns it, and a concerned one stops its in-flight batch at the next boundary.
Flips need the operator role: they are the on-call's emergency tools, not access management.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException
from sqlalchemy import or_, select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.errors import TemporalUnavailableError
from activities.metadata import (
    Agent,
    AuditEvent,
    AuditWriter,
    Connection,
    paused_flags,
    set_paused,
    tenant_session,
)
from console_api.api.context import ApiContext
from console_api.api.deps import ContextDep, CurrentTenant, OperatorPrincipal, Principal
from console_api.api.problems import error_responses
from console_api.api.schemas import (
    ControlChangePublic,
    ControlFlagPublic,
    ControlFlagsPublic,
    ControlFlagUpdate,
    EmergencyStopCreate,
    EmergencyStopPublic,
)
from workflows.queues import cloud_queue
from workflows.sync_types import ControlSignal

router = APIRouter(prefix="/controls", tags=["controls"], responses=error_responses(401, 422, 503))
_POLL_SECONDS = 0.25


async def list_running(client: Client, tenant: str) -> list[str]:
    """Workflow ids of the tenant's running runs (its cloud queue only), from visibility."""
    query = f'TaskQueue = "{cloud_queue(tenant)}" AND ExecutionStatus = "Running"'
    return [run.id async for run in client.list_workflows(query)]


def audit(
    ctx: ApiContext, caller: Principal, *, action: str, target: str, details: dict[str, object]
) -> None:
    """Append a console action to the tenant's audit trail (the caller's key id names who did it)."""
    AuditWriter(ctx.engine).append(
        caller.tenant,
        AuditEvent(
            workflow_id="",
            run_id="",
            activity="console",
            action=action,
            target=target,
            outcome="ok",
            details={"caller": caller.key_id, **details},
        ),
    )


def _require_target(ctx: ApiContext, tenant: str, body: ControlFlagUpdate) -> None:
    """404 unless the tenant has the connection, or an agent or agent group, of that name."""
    if body.scope == "tenant":
        return
    with tenant_session(ctx.engine, tenant) as session:
        if body.scope == "connection":
            found = session.scalar(select(Connection.id).where(Connection.name == body.name))
            kind = "connection"
        else:
            found = session.scalar(
                select(Agent.id).where(or_(Agent.connector_id == body.name, Agent.group_id == body.name))
            )
            kind = "agent or agent group"
    if found is None:
        raise HTTPException(404, f"{kind} {body.name!r} not found")


async def _temporal(ctx: ApiContext, *, tenant: str, detail: str) -> Client:
    """The tenant's Temporal client, or 503 saying what was already done (the flag is the truth runs read)."""
    try:
        return await ctx.temporal_client(tenant)
    except TemporalUnavailableError:
        raise HTTPException(503, f"{detail}; the workflow service is unreachable, retry later") from None


async def _signal_all(client: Client, tenant: str, name: str, sig: ControlSignal) -> int:
    signalled = 0
    for workflow_id in await list_running(client, tenant):
        try:
            await client.get_workflow_handle(workflow_id).signal(name, sig)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            continue  # closed since it was listed
        signalled += 1
    return signalled


async def _flip(
    body: ControlFlagUpdate, *, paused: bool, caller: Principal, ctx: ApiContext
) -> ControlChangePublic:
    _require_target(ctx, caller.tenant, body)
    name = body.name or ""
    reason = body.reason or ""
    changed = set_paused(
        ctx.engine, tenant_id=caller.tenant, scope=body.scope, name=name, paused=paused, reason=reason
    )
    verb = "pause" if paused else "resume"
    target = body.scope if body.scope == "tenant" else f"{body.scope}:{name}"
    audit(
        ctx, caller, action=f"control.{verb}", target=target, details={"reason": reason, "changed": changed}
    )
    sig = ControlSignal(scope=body.scope, name=name, reason=reason)
    done = "set" if paused else "cleared"
    detail = f"the flag is {done} and runs read it before each step, but none was signalled"
    client = await _temporal(ctx, tenant=caller.tenant, detail=detail)
    signalled = await _signal_all(client, caller.tenant, verb, sig)
    return ControlChangePublic(
        scope=body.scope, name=body.name, paused=paused, changed=changed, signalled=signalled
    )


@router.get("", response_model=ControlFlagsPublic)
def list_controls(tenant: CurrentTenant, ctx: ContextDep) -> ControlFlagsPublic:
    """The pauses in force: the tenant itself, and each paused connection or agent."""
    data = [
        ControlFlagPublic(scope=f.scope, name=f.name or None, reason=f.reason, updated_at=f.updated_at)
        for f in paused_flags(ctx.engine, tenant_id=tenant)
    ]
    return ControlFlagsPublic(data=data, count=len(data))


@router.post("/pause", response_model=ControlChangePublic, responses=error_responses(403, 404))
async def pause(body: ControlFlagUpdate, op: OperatorPrincipal, ctx: ContextDep) -> ControlChangePublic:
    """Pause: running runs it concerns stop at their next batch boundary; new ones wait (API starts: 409)."""
    return await _flip(body, paused=True, caller=op, ctx=ctx)


@router.post("/resume", response_model=ControlChangePublic, responses=error_responses(403, 404))
async def resume(body: ControlFlagUpdate, op: OperatorPrincipal, ctx: ContextDep) -> ControlChangePublic:
    """Lift a pause: runs it held continue from where they stopped (unless another pause holds them)."""
    return await _flip(body, paused=False, caller=op, ctx=ctx)


async def _still_running(client: Client, workflow_ids: list[str]) -> list[str]:
    left = []
    for workflow_id in workflow_ids:
        try:
            desc = await client.get_workflow_handle(workflow_id).describe()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            continue
        if desc.status == WorkflowExecutionStatus.RUNNING:
            left.append(workflow_id)
    return left


@router.post("/emergency-stop", response_model=EmergencyStopPublic, responses=error_responses(403))
async def emergency_stop(
    body: EmergencyStopCreate, op: OperatorPrincipal, ctx: ContextDep
) -> EmergencyStopPublic:
    """Cancel every running run of the tenant; terminate those still running after the grace period.

    Cancelled runs stop their batch at the next boundary (a few seconds); a step stuck in a
    database call cannot, and is terminated. With ``pause_tenant`` the tenant is paused first,
    so nothing new starts until it is resumed.
    """
    if body.pause_tenant:
        changed = set_paused(
            ctx.engine, tenant_id=op.tenant, scope="tenant", name="", paused=True, reason=body.reason
        )
        audit(
            ctx,
            op,
            action="control.pause",
            target="tenant",
            details={"reason": body.reason, "changed": changed},
        )
    client = await _temporal(ctx, tenant=op.tenant, detail="no run was stopped")
    targets = await list_running(client, op.tenant)
    for workflow_id in targets:
        try:
            await client.get_workflow_handle(workflow_id).cancel()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
    deadline = asyncio.get_running_loop().time() + body.grace_seconds
    left = await _still_running(client, targets)
    while left and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(_POLL_SECONDS)
        left = await _still_running(client, left)
    reason = f"emergency stop: {body.reason}"
    for workflow_id in left:
        try:
            await client.get_workflow_handle(workflow_id).terminate(reason=reason)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
    cancelled = [w for w in targets if w not in left]
    audit(
        ctx,
        op,
        action="control.emergency_stop",
        target="tenant",
        details={
            "reason": body.reason,
            "cancelled": cancelled,
            "terminated": left,
            "grace_seconds": body.grace_seconds,
            "tenant_paused": body.pause_tenant,
        },
    )
    return EmergencyStopPublic(cancelled=cancelled, terminated=left, tenant_paused=body.pause_tenant)
