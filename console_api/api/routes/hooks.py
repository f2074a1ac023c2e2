"""The public webhook endpoint (Pattern 3.4.4): a signed delivery starts or signals its definition's run.

No API key: a delivery is authenticated by its HMAC signature (see
:mod:`console_api.api.hook_signature`). Checks, in order: body size (413); the hook exists,
belongs to the tenant in the path and is not revoked (404, the same answer for all three, and
for an unknown tenant); the timestamp is within tolerance (401); the signature matches (401);
the body is a JSON object (422). An accepted delivery is recorded in ``webhook_deliveries`` in
the same transaction as the signal-with-start, so a replayed delivery id (the table's key
decides races) starts nothing new and answers 200 with ``duplicate: true``. Every accepted or
refused delivery of a known tenant is audited.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Path, Request, Response
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.errors import InvalidInputError, TenantNotFoundError, VscError
from activities.metadata import (
    AuditEvent,
    AuditWriter,
    Execution,
    Tenant,
    TenantSession,
    Webhook,
    WebhookDelivery,
    WorkflowDefinition,
    global_session,
    tenant_session,
    validate_tenant_id,
)
from activities.metadata._models import utcnow
from activities.quotas import tenant_tier
from activities.tiers import Tier, tier_of_record
from console_api.api.context import ApiContext
from console_api.api.deps import ContextDep
from console_api.api.hook_signature import DELIVERY_PATTERN, parse_timestamp, signature_matches
from console_api.api.problems import error_responses
from console_api.api.quotas import rate_limited, require_execution_slot
from console_api.api.routes.definitions import stored_document
from console_api.api.routes.webhooks import KEY_FIELD, hook_workflow_id
from console_api.api.schemas import HookDeliveryPublic
from workflows.queues import cloud_queue
from workflows.registry import WORKFLOW_BY_PATTERN
from workflows.sync_types import SyncResult

router = APIRouter(prefix="/hooks", tags=["hooks"])
log = logging.getLogger("vsc.api.hooks")
EVENT_SIGNAL = "event"
_BODY_DOC = {
    "required": True,
    "content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}},
}


@dataclass(frozen=True)
class HookTarget:
    """What a verified delivery needs: the signing key and the definition to run."""

    key: str
    pattern: str
    definition_id: str
    workflow_input: dict[str, Any]


class _Refused(Exception):
    """A refusal (``status``): ``reason`` is audited, ``detail`` answered; it never leaves this module."""

    def __init__(self, status: int, *, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.reason, self.detail = status, reason, detail


def _not_found(tenant: str, hook_id: str) -> HTTPException:
    return HTTPException(404, f"no webhook {hook_id!r} for tenant {tenant!r}")


def _load_target(ctx: ApiContext, tenant: str, hook_id: str) -> HookTarget:
    """The hook's key and definition.

    Raises:
        _Refused: 404 for an unknown or revoked hook of an existing tenant.
        HTTPException: 404 for an unknown or malformed tenant (nothing to audit into).
    """
    try:
        with tenant_session(ctx.engine, tenant) as session:
            hook = session.get(Webhook, hook_id)
            if hook is None or hook.tenant_id != tenant or hook.revoked_at is not None:
                reason = "unknown hook" if hook is None else "revoked hook"
                raise _Refused(404, reason=reason, detail=_not_found(tenant, hook_id).detail)
            definition = session.get(WorkflowDefinition, hook.definition_id)
            assert definition is not None  # a foreign key
            key = ctx.secrets.get(session, hook.secret_ref)[KEY_FIELD]
            return HookTarget(
                key=key,
                pattern=definition.pattern,
                definition_id=definition.id,
                workflow_input=stored_document(ctx, definition)["input"],
            )
    except (InvalidInputError, TenantNotFoundError):
        raise _not_found(tenant, hook_id) from None


def _verify(
    ctx: ApiContext,
    target: HookTarget,
    *,
    body: bytes,
    timestamp: str | None,
    delivery: str | None,
    signature: str | None,
) -> dict[str, Any]:
    """The delivery's JSON object, once its timestamp and signature check out.

    Raises:
        _Refused: 401 for a missing, stale or future timestamp, a missing delivery id or a bad
            signature; 422 for a body that is not a JSON object.
    """
    moment = parse_timestamp(timestamp)
    if moment is None or timestamp is None:
        raise _Refused(401, reason="bad timestamp", detail="X-VSC-Timestamp (unix seconds) is required")
    tolerance = ctx.settings.webhook_tolerance_seconds
    if abs(time.time() - moment) > tolerance:
        raise _Refused(
            401,
            reason="timestamp outside tolerance",
            detail=f"X-VSC-Timestamp is more than {tolerance} s from now",
        )
    if delivery is None or not DELIVERY_PATTERN.match(delivery):
        raise _Refused(
            401, reason="bad delivery id", detail="X-VSC-Delivery (1-200 of A-Z a-z 0-9 . _ : -) is required"
        )
    if not signature_matches(
        key=target.key, timestamp=timestamp, delivery_id=delivery, body=body, presented=signature
    ):
        raise _Refused(401, reason="bad signature", detail="the X-VSC-Signature does not match")
    try:
        payload = json.loads(body, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        payload = None
    if not isinstance(payload, dict):
        raise _Refused(422, reason="body not a JSON object", detail="the body must be a JSON object")
    return payload


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def _audit(
    ctx: ApiContext,
    tenant: str,
    hook_id: str,
    *,
    outcome: str,
    reason: str,
    delivery: str | None,
    workflow_id: str = "",
) -> None:
    details: dict[str, Any] = {"reason": reason}
    if delivery is not None and DELIVERY_PATTERN.match(delivery):
        details["delivery_id"] = delivery
    event = AuditEvent(
        workflow_id=workflow_id,
        run_id="",
        activity="webhook",
        action="deliver",
        target=f"webhook:{hook_id[:36]}",
        outcome=outcome,
        details=details,
    )
    try:
        await asyncio.to_thread(AuditWriter(ctx.engine).append, tenant, event)
    except VscError as exc:
        log.error("audit of a webhook delivery failed: %s", exc.message)


def _record_delivery(session: TenantSession, *, hook_id: str, delivery: str, workflow_id: str) -> bool:
    """Insert the delivery row; False when the id is already recorded (the table's key decides races)."""
    try:
        with session.begin_nested():
            session.add(
                WebhookDelivery(
                    hook_id=hook_id, delivery_id=delivery, workflow_id=workflow_id, received_at=utcnow()
                )
            )
    except IntegrityError:
        return False
    return True


def _record_execution(session: TenantSession, *, execution: Execution) -> None:
    """Link the run to its definition for ``GET /executions``, once per run."""
    known = select(Execution.id).where(
        Execution.workflow_id == execution.workflow_id, Execution.run_id == execution.run_id
    )
    if session.scalar(known) is not None:
        return
    try:
        with session.begin_nested():
            session.add(execution)
    except IntegrityError:
        pass  # a concurrent delivery recorded the same run


def _provisioned_tier(engine: Engine, tenant: str) -> Tier | None:
    """The tenant's tier, or ``None`` for a malformed or unknown tenant (which gets no rate bucket)."""
    try:
        validate_tenant_id(tenant)
    except InvalidInputError:
        return None
    with global_session(engine) as session:
        stored = session.scalar(select(Tenant.tier).where(Tenant.id == tenant))
    return None if stored is None else tier_of_record(stored)


async def _is_running(client: Client, workflow_id: str) -> bool:
    try:
        description = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return description.status == WorkflowExecutionStatus.RUNNING


async def _start_or_signal(
    ctx: ApiContext, tenant: str, hook_id: str, target: HookTarget, *, delivery: str, payload: dict[str, Any]
) -> HookDeliveryPublic:
    """Record the delivery and signal-with-start its run in one transaction; a known id is a duplicate.

    The transaction stays open across the Temporal call so a concurrent delivery of the same id
    waits on the row (PostgreSQL) or fails retryably (SQLite) instead of being told "duplicate"
    for an event that may yet fail. Database work runs in threads, never on the event loop.
    """
    workflow_id = hook_workflow_id(tenant, hook_id)
    workflow = WORKFLOW_BY_PATTERN[target.pattern]
    client = await ctx.temporal_client(tenant)
    # The transaction ends in a thread on every way out: commit on success, else rollback.
    ending = ExitStack()
    session = await asyncio.to_thread(ending.enter_context, tenant_session(ctx.engine, tenant))
    try:
        fresh = await asyncio.to_thread(
            _record_delivery, session, hook_id=hook_id, delivery=delivery, workflow_id=workflow_id
        )
        run_id: str | None = None
        if fresh and not await _is_running(client, workflow_id):
            # A new run takes a slot of the tier's concurrent executions; signalling a live one does not.
            tier = await asyncio.to_thread(tenant_tier, ctx.engine, tenant)
            await require_execution_slot(client, tenant=tenant, tier=tier)
        if fresh:
            # Fails the transaction when Temporal does: the delivery is not recorded, the sender retries.
            handle = await client.start_workflow(
                workflow.run,  # type: ignore[attr-defined]
                target.workflow_input,
                id=workflow_id,
                task_queue=cloud_queue(tenant),
                start_signal=EVENT_SIGNAL,
                start_signal_args=[
                    {"source": f"webhook:{hook_id}", "delivery_id": delivery, "payload": payload}
                ],
                result_type=SyncResult,
            )
            run_id = handle.result_run_id or ""
            execution = Execution(
                workflow_id=workflow_id,
                run_id=run_id,
                workflow_type=workflow.__name__,
                task_queue=cloud_queue(tenant),
                status="RUNNING",
                started_at=utcnow(),
                definition_id=target.definition_id,
            )
            await asyncio.to_thread(_record_execution, session, execution=execution)
    except BaseException as exc:
        await asyncio.to_thread(ending.__exit__, type(exc), exc, exc.__traceback__)
        raise
    await asyncio.to_thread(ending.close)
    return HookDeliveryPublic(
        duplicate=not fresh, delivery_id=delivery, workflow_id=workflow_id, run_id=run_id
    )


@router.post(
    "/{tenant}/{hook_id}",
    response_model=HookDeliveryPublic,
    status_code=202,
    responses={
        200: {"model": HookDeliveryPublic, "description": "A replayed delivery id: nothing new was started"},
        **error_responses(401, 404, 409, 413, 422, 429, 503),
    },
    openapi_extra={"requestBody": _BODY_DOC},
)
async def deliver_webhook(
    tenant: Annotated[str, Path(min_length=1, max_length=63)],
    hook_id: Annotated[str, Path(min_length=1, max_length=36)],
    request: Request,
    response: Response,
    ctx: ContextDep,
    x_vsc_timestamp: Annotated[str | None, Header()] = None,
    x_vsc_delivery: Annotated[str | None, Header()] = None,
    x_vsc_signature: Annotated[str | None, Header()] = None,
) -> HookDeliveryPublic:
    """Accept a signed event: signal-with-start the hook's run with signal ``event`` (202; a replay 200)."""
    body = await request.body()
    limit = ctx.settings.webhook_max_body_bytes
    if len(body) > limit:
        raise HTTPException(413, f"a webhook body is at most {limit} bytes")
    # Before any lookup or audit write: a flood of deliveries, signed or not, costs its tenant at most
    # its tier's rate (in a bucket of its own, so senders cannot starve the tenant's API calls).
    tier = await asyncio.to_thread(_provisioned_tier, ctx.engine, tenant)
    if tier is not None:
        retry_after = ctx.limiter.take(f"hooks:{tenant}", per_minute=tier.api_calls_per_minute)
        if retry_after is not None:
            raise rate_limited(tenant, tier, retry_after)
    try:
        target = await asyncio.to_thread(_load_target, ctx, tenant, hook_id)
        payload = _verify(
            ctx,
            target,
            body=body,
            timestamp=x_vsc_timestamp,
            delivery=x_vsc_delivery,
            signature=x_vsc_signature,
        )
    except _Refused as refused:
        await _audit(ctx, tenant, hook_id, outcome="refused", reason=refused.reason, delivery=x_vsc_delivery)
        headers = {"WWW-Authenticate": 'HMAC realm="webhook"'} if refused.status == 401 else None
        raise HTTPException(refused.status, refused.detail, headers=headers) from None
    assert x_vsc_delivery is not None  # _verify checked it
    try:
        result = await _start_or_signal(
            ctx, tenant, hook_id, target, delivery=x_vsc_delivery, payload=payload
        )
    except Exception:
        await _audit(
            ctx,
            tenant,
            hook_id,
            outcome="failed",
            reason="could not start or signal",
            delivery=x_vsc_delivery,
        )
        raise
    outcome = "duplicate" if result.duplicate else "accepted"
    await _audit(
        ctx,
        tenant,
        hook_id,
        outcome=outcome,
        reason=outcome,
        delivery=x_vsc_delivery,
        workflow_id=result.workflow_id,
    )
    if result.duplicate:
        response.status_code = 200
    return result
