"""Executions: start a definition version, list and describe runs from Temporal, cancel, terminate, signal.

Workflow id (``<tenant>-<definition>-<uuid>``) and task queue (the tenant's cloud queue) are
derived here; a run belongs to a tenant exactly when it runs on that tenant's queue, which
is what every read checks before answering. Signals come from an allow-list, each with its
argument model; describing a run adds its progress (pending activities' heartbeats and the
workflow's ``progress`` query).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from activities.metadata import Execution, Schedule, pauses_for, tenant_session
from activities.metadata._models import as_utc, utcnow
from console_api.api.api_flows import bind_apis
from console_api.api.deps import ContextDep, CurrentTenant, OperatorPrincipal, SessionDep, TemporalDep
from console_api.api.problems import error_responses, field_error
from console_api.api.quotas import require_execution_slot
from console_api.api.routes.controls import audit
from console_api.api.routes.definitions import get_definition, stored_document
from console_api.api.schemas import (
    ActivityProgress,
    ExecutionCreate,
    ExecutionParams,
    ExecutionProgress,
    ExecutionPublic,
    ExecutionSignal,
    ExecutionSignalled,
    ExecutionsPublic,
    ExecutionTerminate,
)
from console_api.api.settings import ApiSettings
from console_api.presence import online_members
from workflows.api_types import ApiFlowResult
from workflows.bidi_types import BidiResult
from workflows.fan_types import FanInResult, FanOutResult
from workflows.queues import cloud_queue
from workflows.registry import API_PATTERNS, SYNC_PATTERNS, WORKFLOW_BY_PATTERN
from workflows.routing import Location
from workflows.sync_types import ControlSignal, SyncResult, WorkflowEvent

router = APIRouter(prefix="/executions", tags=["executions"], responses=error_responses(401, 422, 503))
WorkflowId = Annotated[str, Path(min_length=1, max_length=255)]
SIGNAL_ARGS: dict[str, type[BaseModel]] = {
    "pause": ControlSignal,
    "resume": ControlSignal,
    "event": WorkflowEvent,
}
"""The allow-list: signal name -> the model its argument must validate against."""
_QUERY_TIMEOUT = timedelta(seconds=5)
RESULT_TYPES: dict[str, type[BaseModel]] = {
    **dict.fromkeys(API_PATTERNS, ApiFlowResult),
    "3.4.1": FanOutResult,
    "3.4.2": FanInResult,
    "3.4.3": BidiResult,
}
"""What a run of each pattern returns; the table syncs (the rest) return a ``SyncResult``."""


def _ui_url(settings: ApiSettings, workflow_id: str, run_id: str | None) -> str:
    namespace = quote(settings.temporal.namespace, safe="")
    return (
        f"{settings.ui_url.rstrip('/')}/namespaces/{namespace}/workflows/"
        f"{quote(workflow_id, safe='')}/{quote(run_id or '', safe='')}/history"
    )


def _public(run: WorkflowExecution, *, settings: ApiSettings, definition_id: str | None) -> ExecutionPublic:
    return ExecutionPublic(
        workflow_id=run.id,
        run_id=run.run_id,
        workflow_type=run.workflow_type,
        task_queue=run.task_queue,
        status=run.status.name if run.status is not None else "UNKNOWN",
        definition_id=definition_id,
        started_at=run.start_time,
        closed_at=run.close_time,
        ui_url=_ui_url(settings, run.id, run.run_id),
    )


async def _describe(
    client: Client, tenant: str, workflow_id: str
) -> tuple[WorkflowHandle[object, object], WorkflowExecutionDescription]:
    handle: WorkflowHandle[object, object] = client.get_workflow_handle(workflow_id)
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            raise HTTPException(404, f"execution {workflow_id!r} not found") from None
        raise
    if description.task_queue != cloud_queue(tenant):
        raise HTTPException(404, f"execution {workflow_id!r} not found")
    return handle, description


def _definition_of(session: SessionDep, workflow_ids: list[str]) -> dict[str, str | None]:
    """Which definition each run ran.

    From its execution row, or, for a scheduled run (Temporal starts it, so it has no row), from
    the schedule whose ``<schedule id>-<time>`` names it.
    """
    if not workflow_ids:
        return {}
    rows = session.execute(
        select(Execution.workflow_id, Execution.definition_id).where(Execution.workflow_id.in_(workflow_ids))
    ).all()
    found: dict[str, str | None] = {r.workflow_id: r.definition_id for r in rows}
    rest = [w for w in workflow_ids if w not in found]
    if rest:
        schedules = session.execute(select(Schedule.schedule_id, Schedule.definition_id)).all()
        for workflow_id in rest:
            for schedule in schedules:
                if workflow_id.startswith(f"{schedule.schedule_id}-"):
                    found[workflow_id] = schedule.definition_id
    return found


def _require_online_agent(
    session: SessionDep, document: dict[str, Any], plan: dict[str, Any], *, within_seconds: float
) -> None:
    """Refuse (409) a run whose plan needs an agent or agent group with no member online.

    Started anyway, the run would wait on a queue nobody polls until its timeouts fire. A plan with
    no agent step (a fan-out between cloud databases names an agent it never uses) needs none.
    """
    group = document.get("input", {}).get("agent")
    on_agent = any(step["location"] == Location.AGENT for step in plan.get("steps", ()))
    if group and on_agent and not online_members(session, group, within=timedelta(seconds=within_seconds)):
        raise HTTPException(
            409,
            f"agent or agent group {group!r} has no member online (no heartbeat in the last "
            f"{within_seconds:g} s); start the agent (`vsc-agent run`) and retry",
        )


def _connections(inp: dict[str, Any]) -> list[str]:
    """Every connection a saved input names: a sync's two, a fan's endpoints, a bidirectional sync's sides."""
    endpoints = [inp.get("source"), inp.get("destination"), inp.get("left"), inp.get("right")]
    endpoints += [*inp.get("destinations", ()), *(s.get("endpoint") for s in inp.get("sources", ()))]
    named = [inp.get("source_connection"), inp.get("destination_connection")]
    # A Mode 2 input's ``source``/``destination`` are API references, which carry no ``connection``.
    named += [e.get("connection") for e in endpoints if isinstance(e, dict)]
    return [c for c in named if isinstance(c, str)]


def _require_not_paused(ctx: ContextDep, tenant: str, document: dict[str, Any]) -> None:
    """Refuse (409) a run that a control flag holds: it would only wait until the flag is lifted."""
    inp = document.get("input", {})
    connections = _connections(inp)
    held = pauses_for(ctx.engine, tenant_id=tenant, connections=connections, agent=inp.get("agent"))
    if held:
        raise HTTPException(
            409,
            f"paused by control flag(s) {', '.join(held)}; lift them with POST /controls/resume and retry",
        )


def with_params(workflow_input: dict[str, Any], params: ExecutionParams | None) -> dict[str, Any]:
    """The definition's input with one run's parameters applied.

    Raises:
        RequestValidationError: 422 at ``params.tables`` naming a table the definition does not sync.
    """
    if params is None:
        return workflow_input
    merged = dict(workflow_input)
    if params.tables is not None:
        known = [t["source_table"] for t in workflow_input["tables"]]
        unknown = sorted(set(params.tables) - set(known))
        if unknown:
            raise field_error(
                ("body", "params", "tables"),
                f"the definition does not sync {', '.join(map(repr, unknown))}; it syncs {', '.join(known)}",
            )
        merged["tables"] = [t for t in workflow_input["tables"] if t["source_table"] in params.tables]
    if params.limits is not None:
        merged["limits"] = params.limits.model_dump(mode="json")
    if params.verify is not None:
        merged["verify"] = params.verify
    return merged


@router.post("", response_model=ExecutionPublic, status_code=201, responses=error_responses(403, 404, 409))
async def start_execution(
    body: ExecutionCreate, op: OperatorPrincipal, session: SessionDep, client: TemporalDep, ctx: ContextDep
) -> ExecutionPublic:
    """Run a definition version on the tenant's cloud queue (409 when paused or no agent member is online)."""
    definition = get_definition(session, body.definition_id)
    if definition.pattern not in SYNC_PATTERNS and body.params is not None:
        raise field_error(("body", "params"), f"pattern {definition.pattern} takes no run parameters")
    document = stored_document(ctx, definition)
    _require_not_paused(ctx, op.tenant, document)
    _require_online_agent(
        session, document, definition.document["plan"], within_seconds=ctx.settings.agent_online_seconds
    )
    await require_execution_slot(client, tenant=op.tenant, tier=op.tier)
    workflow = WORKFLOW_BY_PATTERN[definition.pattern]
    workflow_id = f"{op.tenant}-{definition.name}-{uuid.uuid4()}"
    queue = cloud_queue(op.tenant)
    if definition.pattern in API_PATTERNS:
        # The pinned API versions, bound now: a later refresh of an API does not change this run.
        workflow_input = bind_apis(
            session, ctx.artifacts, pattern=definition.pattern, saved=document["input"]
        )
    elif definition.pattern in SYNC_PATTERNS:
        workflow_input = with_params(document["input"], body.params)
    else:
        workflow_input = document["input"]
    handle = await client.start_workflow(
        workflow.run,  # type: ignore[attr-defined]
        workflow_input,
        id=workflow_id,
        task_queue=queue,
        result_type=RESULT_TYPES.get(definition.pattern, SyncResult),
    )
    run_id = handle.first_execution_run_id or handle.result_run_id or ""
    # In a transaction of its own: the request's session has read before the start, and on SQLite
    # (WAL) a read snapshot that workers wrote past since cannot be upgraded to a write.
    with tenant_session(ctx.engine, op.tenant) as fresh:
        fresh.add(
            Execution(
                workflow_id=workflow_id,
                run_id=run_id,
                workflow_type=workflow.__name__,
                task_queue=queue,
                status="RUNNING",
                started_at=utcnow(),
                definition_id=definition.id,
            )
        )
    return ExecutionPublic(
        workflow_id=workflow_id,
        run_id=run_id,
        workflow_type=workflow.__name__,
        task_queue=queue,
        status="RUNNING",
        definition_id=definition.id,
        started_at=utcnow(),
        closed_at=None,
        ui_url=_ui_url(ctx.settings, workflow_id, run_id),
    )


@router.get("", response_model=ExecutionsPublic)
async def list_executions(
    tenant: CurrentTenant,
    session: SessionDep,
    client: TemporalDep,
    ctx: ContextDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ExecutionsPublic:
    """The tenant's runs from Temporal visibility (its cloud queue only), newest first."""
    runs = [run async for run in client.list_workflows(f'TaskQueue = "{cloud_queue(tenant)}"', limit=limit)]
    definitions = _definition_of(session, [r.id for r in runs])
    data = [_public(r, settings=ctx.settings, definition_id=definitions.get(r.id)) for r in runs]
    return ExecutionsPublic(data=data, count=len(data))


@router.get("/{workflow_id}", response_model=ExecutionPublic, responses=error_responses(404))
async def read_execution(
    workflow_id: WorkflowId, tenant: CurrentTenant, session: SessionDep, client: TemporalDep, ctx: ContextDep
) -> ExecutionPublic:
    """One run's current state and progress (heartbeats of its pending activities, its ``progress`` query)."""
    handle, description = await _describe(client, tenant, workflow_id)
    definitions = _definition_of(session, [workflow_id])
    public = _public(description, settings=ctx.settings, definition_id=definitions.get(workflow_id))
    return public.model_copy(update={"progress": await _progress(client, handle, description)})


async def _progress(
    client: Client, handle: WorkflowHandle[object, object], description: WorkflowExecutionDescription
) -> ExecutionProgress:
    activities = []
    for pending in description.raw_description.pending_activities:
        details = pending.heartbeat_details.payloads
        decoded = await client.data_converter.decode(details) if details else []
        beat_at = (
            as_utc(pending.last_heartbeat_time.ToDatetime())
            if pending.HasField("last_heartbeat_time")
            else None
        )
        activities.append(
            ActivityProgress(
                activity_type=pending.activity_type.name,
                state=PendingActivityState.Name(pending.state).removeprefix("PENDING_ACTIVITY_STATE_"),
                attempt=pending.attempt,
                heartbeat=decoded[0] if decoded else None,
                last_heartbeat_at=beat_at,
            )
        )
    state = None
    if description.status == WorkflowExecutionStatus.RUNNING:
        try:
            raw = await handle.query("progress", rpc_timeout=_QUERY_TIMEOUT)
        except (RPCError, WorkflowQueryFailedError):
            raw = None  # no worker answering right now: heartbeats are still shown
        # A bidirectional sync (3.4.3) answers with the name of its stage only.
        state = {"stage": raw} if isinstance(raw, str) else raw if isinstance(raw, dict) else None
    return ExecutionProgress(activities=activities, state=state)


@router.post(
    "/{workflow_id}/cancel",
    response_model=ExecutionPublic,
    status_code=202,
    responses=error_responses(403, 404),
)
async def cancel_execution(
    workflow_id: WorkflowId, op: OperatorPrincipal, session: SessionDep, client: TemporalDep, ctx: ContextDep
) -> ExecutionPublic:
    """Ask a run to cancel; it stops at its next activity boundary."""
    handle, _ = await _describe(client, op.tenant, workflow_id)
    try:
        await handle.cancel()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        # Already closed: cancelling a finished run is a no-op, not an error.
    _, description = await _describe(client, op.tenant, workflow_id)
    definitions = _definition_of(session, [workflow_id])
    return _public(description, settings=ctx.settings, definition_id=definitions.get(workflow_id))


@router.post(
    "/{workflow_id}/terminate",
    response_model=ExecutionPublic,
    responses=error_responses(403, 404),
)
async def terminate_execution(
    workflow_id: WorkflowId,
    body: ExecutionTerminate,
    op: OperatorPrincipal,
    session: SessionDep,
    client: TemporalDep,
    ctx: ContextDep,
) -> ExecutionPublic:
    """End a run at once, with a reason; its step activity is abandoned (loads are idempotent)."""
    handle, _ = await _describe(client, op.tenant, workflow_id)
    try:
        await handle.terminate(reason=body.reason)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        # Already closed: terminating a finished run is a no-op, not an error.
    audit(ctx, op, action="execution.terminate", target=workflow_id, details={"reason": body.reason})
    _, description = await _describe(client, op.tenant, workflow_id)
    definitions = _definition_of(session, [workflow_id])
    return _public(description, settings=ctx.settings, definition_id=definitions.get(workflow_id))


@router.post(
    "/{workflow_id}/signal",
    response_model=ExecutionSignalled,
    status_code=202,
    responses=error_responses(403, 404, 409),
)
async def signal_execution(
    workflow_id: WorkflowId,
    body: ExecutionSignal,
    op: OperatorPrincipal,
    client: TemporalDep,
    ctx: ContextDep,
) -> ExecutionSignalled:
    """Send an allow-listed signal (``pause``, ``resume``, ``event``); 409 when the run is not running."""
    try:
        arg = SIGNAL_ARGS[body.name].model_validate(body.args or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise field_error(["body", "args", *first["loc"]], first["msg"]) from None
    handle, description = await _describe(client, op.tenant, workflow_id)
    if description.status != WorkflowExecutionStatus.RUNNING:
        raise HTTPException(409, f"execution {workflow_id!r} is not running")
    try:
        await handle.signal(body.name, arg)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        raise HTTPException(409, f"execution {workflow_id!r} is not running") from None
    audit(ctx, op, action="execution.signal", target=workflow_id, details={"signal": body.name})
    return ExecutionSignalled(workflow_id=workflow_id, name=body.name)
