"""Schedules: periodic runs of a definition version through Temporal Schedules.

The Temporal schedule id (``<tenant>.<name>``; neither part can hold a ``.``, so no two
tenants' ids meet), the runs' workflow ids and their task queue (the tenant's cloud queue)
are derived here. The ``schedules`` row scopes a schedule to its tenant: any id not in the
caller's rows is 404, whatever Temporal holds. Temporal owns the live state (paused, next
and recent actions); the row keeps what was asked for.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response
from sqlalchemy import select
from temporalio.client import (
    Client,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
)
from temporalio.client import (
    Schedule as TemporalSchedule,
)
from temporalio.service import RPCError, RPCStatusCode

from activities.metadata import Schedule, TenantSession, WorkflowDefinition, tenant_session
from activities.metadata._models import utcnow
from console_api.api.deps import ContextDep, CurrentPrincipal, OperatorPrincipal, SessionDep, TemporalDep
from console_api.api.problems import error_responses, field_error
from console_api.api.quotas import require_execution_slot
from console_api.api.routes.definitions import get_definition
from console_api.api.schemas import (
    ScheduleActionPublic,
    ScheduleCreate,
    ScheduleNote,
    SchedulePublic,
    SchedulesPublic,
    ScheduleStatePublic,
)
from workflows.queues import cloud_queue
from workflows.registry import WORKFLOW_BY_PATTERN

_LOG = logging.getLogger(__name__)
router = APIRouter(prefix="/schedules", tags=["schedules"], responses=error_responses(401, 422, 503))
ScheduleRowId = Annotated[str, Path(min_length=1, max_length=36)]
_OVERLAP = {policy.name.lower(): policy for policy in ScheduleOverlapPolicy}


def temporal_schedule_id(tenant: str, name: str) -> str:
    """The Temporal schedule id of the tenant's schedule ``name``."""
    return f"{tenant}.{name}"


def workflow_id_prefix(tenant: str, name: str) -> str:
    """Id of the schedule's runs before Temporal's ``-<scheduled time>`` suffix."""
    return f"{tenant}.{name}"


def _temporal_schedule(
    body: ScheduleCreate, *, tenant: str, definition: WorkflowDefinition
) -> TemporalSchedule:
    workflow = WORKFLOW_BY_PATTERN[definition.pattern]
    intervals = (
        [ScheduleIntervalSpec(every=timedelta(seconds=body.interval_seconds))]
        if body.interval_seconds
        else []
    )
    return TemporalSchedule(
        action=ScheduleActionStartWorkflow(
            workflow.__name__,
            definition.document["input"],
            id=workflow_id_prefix(tenant, body.name),
            task_queue=cloud_queue(tenant),
        ),
        spec=ScheduleSpec(
            intervals=intervals,
            cron_expressions=[body.cron] if body.cron else [],
            jitter=timedelta(seconds=body.jitter_seconds) if body.jitter_seconds else None,
        ),
        policy=SchedulePolicy(overlap=_OVERLAP[body.overlap]),
        state=ScheduleState(paused=body.paused, note=body.note),
    )


def _state(description: ScheduleDescription) -> ScheduleStatePublic:
    info, state = description.info, description.schedule.state
    actions = [
        ScheduleActionPublic(
            workflow_id=a.action.workflow_id,
            run_id=a.action.first_execution_run_id,
            scheduled_at=a.scheduled_at,
            started_at=a.started_at,
        )
        for a in info.recent_actions
        if isinstance(a.action, ScheduleActionExecutionStartWorkflow)
    ]
    return ScheduleStatePublic(
        paused=state.paused,
        note=state.note or None,
        next_action_times=list(info.next_action_times),
        recent_actions=actions,
        running_workflow_ids=[
            r.workflow_id for r in info.running_actions if isinstance(r, ScheduleActionExecutionStartWorkflow)
        ],
        num_actions=info.num_actions,
    )


async def _public(client: Client, row: Schedule) -> SchedulePublic:
    try:
        state: ScheduleStatePublic | None = _state(
            await client.get_schedule_handle(row.schedule_id).describe()
        )
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        state = None
    spec = row.spec
    return SchedulePublic(
        id=row.id,
        name=row.name,
        definition_id=row.definition_id,
        schedule_id=row.schedule_id,
        workflow_id_prefix=workflow_id_prefix(row.tenant_id, row.name),
        task_queue=cloud_queue(row.tenant_id),
        interval_seconds=spec.get("interval_seconds"),
        cron=spec.get("cron"),
        jitter_seconds=spec.get("jitter_seconds", 0),
        overlap=spec.get("overlap", "skip"),
        created_at=row.created_at,
        state=state,
    )


def _get(session: TenantSession, schedule_row_id: str) -> Schedule:
    row = session.get(Schedule, schedule_row_id)
    if row is None or row.tenant_id != session.tenant_id:
        raise HTTPException(404, f"schedule {schedule_row_id!r} not found")
    return row


async def _live_handle(client: Client, row: Schedule) -> ScheduleHandle:
    """The row's Temporal schedule; 404 when Temporal no longer has it (only DELETE then applies)."""
    handle = client.get_schedule_handle(row.schedule_id)
    try:
        await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(
                404, f"schedule {row.id!r} no longer exists in Temporal; DELETE it to remove the row"
            ) from None
        raise
    return handle


@router.post("", response_model=SchedulePublic, status_code=201, responses=error_responses(403, 404, 409))
async def create_schedule(
    body: ScheduleCreate, op: OperatorPrincipal, client: TemporalDep, ctx: ContextDep
) -> SchedulePublic:
    """Schedule a definition version; both the Temporal schedule and its row exist, or neither.

    A cron expression Temporal refuses is a 422 on ``cron``; a name already used is 409.
    """
    created: ScheduleHandle | None = None
    try:
        # One transaction around the Temporal call: Temporal refusing rolls the row back, and a
        # failed commit deletes the Temporal schedule again (below).
        with tenant_session(ctx.engine, op.tenant) as session:
            definition = get_definition(session, body.definition_id)
            if session.scalar(select(Schedule.id).where(Schedule.name == body.name)) is not None:
                raise HTTPException(409, f"a schedule named {body.name!r} already exists")
            row = Schedule(
                name=body.name,
                definition_id=definition.id,
                schedule_id=temporal_schedule_id(op.tenant, body.name),
                spec=body.model_dump(include={"interval_seconds", "cron", "jitter_seconds", "overlap"}),
                created_at=utcnow(),
            )
            session.add(row)
            session.flush()
            try:
                created = await client.create_schedule(
                    row.schedule_id, _temporal_schedule(body, tenant=op.tenant, definition=definition)
                )
            except ScheduleAlreadyRunningError:
                raise HTTPException(409, f"Temporal already holds schedule {row.schedule_id!r}") from None
            except RPCError as exc:
                if exc.status != RPCStatusCode.INVALID_ARGUMENT:
                    raise
                raise field_error(["body", "cron"] if body.cron else ["body"], exc.message) from None
            return await _public(client, row)
    except BaseException:
        if created is not None:
            await _undo(created)
        raise


async def _undo(created: ScheduleHandle) -> None:
    """Delete a Temporal schedule whose row could not be committed; a failure here is only logged."""
    try:
        await created.delete()
    except RPCError as exc:
        _LOG.error("schedule %s has no row and could not be deleted from Temporal: %s", created.id, exc)


@router.get("", response_model=SchedulesPublic)
async def list_schedules(
    _caller: CurrentPrincipal, session: SessionDep, client: TemporalDep
) -> SchedulesPublic:
    """The tenant's schedules by name, each with Temporal's state."""
    rows = session.scalars(select(Schedule).order_by(Schedule.name)).all()
    data = [await _public(client, row) for row in rows]
    return SchedulesPublic(data=data, count=len(data))


@router.get("/{schedule_row_id}", response_model=SchedulePublic, responses=error_responses(404))
async def read_schedule(
    schedule_row_id: ScheduleRowId, _caller: CurrentPrincipal, session: SessionDep, client: TemporalDep
) -> SchedulePublic:
    """One schedule: its spec, paused flag and note, next action times and recent runs."""
    return await _public(client, _get(session, schedule_row_id))


@router.delete("/{schedule_row_id}", status_code=204, responses=error_responses(403, 404))
async def delete_schedule(
    schedule_row_id: ScheduleRowId, _op: OperatorPrincipal, session: SessionDep, client: TemporalDep
) -> Response:
    """Delete the Temporal schedule, then its row (runs already started carry on)."""
    row = _get(session, schedule_row_id)
    try:
        await client.get_schedule_handle(row.schedule_id).delete()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        # Already gone from Temporal: removing the row is all that is left.
    session.delete(row)
    session.flush()
    return Response(status_code=204)


@router.post("/{schedule_row_id}/pause", response_model=SchedulePublic, responses=error_responses(403, 404))
async def pause_schedule(
    schedule_row_id: ScheduleRowId,
    _op: OperatorPrincipal,
    session: SessionDep,
    client: TemporalDep,
    body: ScheduleNote | None = None,
) -> SchedulePublic:
    """Stop the schedule's actions until it is unpaused (a running run carries on)."""
    row = _get(session, schedule_row_id)
    handle = await _live_handle(client, row)
    await handle.pause(note=(body.note if body else None) or "paused through the console API")
    return await _public(client, row)


@router.post("/{schedule_row_id}/unpause", response_model=SchedulePublic, responses=error_responses(403, 404))
async def unpause_schedule(
    schedule_row_id: ScheduleRowId,
    _op: OperatorPrincipal,
    session: SessionDep,
    client: TemporalDep,
    body: ScheduleNote | None = None,
) -> SchedulePublic:
    """Resume the schedule's actions."""
    row = _get(session, schedule_row_id)
    handle = await _live_handle(client, row)
    await handle.unpause(note=(body.note if body else None) or "unpaused through the console API")
    return await _public(client, row)


@router.post(
    "/{schedule_row_id}/trigger",
    response_model=SchedulePublic,
    status_code=202,
    responses=error_responses(403, 404, 429),
)
async def trigger_schedule(
    schedule_row_id: ScheduleRowId, op: OperatorPrincipal, session: SessionDep, client: TemporalDep
) -> SchedulePublic:
    """Start one run now, paused or not, under the schedule's overlap policy (``skip``: not while one runs).

    429 when the tenant already runs its tier's number of concurrent executions.
    """
    row = _get(session, schedule_row_id)
    handle = await _live_handle(client, row)
    await require_execution_slot(client, tenant=op.tenant, tier=op.tier)
    await handle.trigger()
    return await _public(client, row)
