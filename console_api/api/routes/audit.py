"""The tenant's audit log: query events, verify the hash chain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from activities.metadata import AuditVerification, AuditWriter
from activities.metadata._audit import MAX_QUERY_LIMIT
from console_api.api.deps import ContextDep, CurrentTenant
from console_api.api.problems import error_responses
from console_api.api.schemas import AuditEventsPublic

router = APIRouter(prefix="/audit", tags=["audit"], responses=error_responses(401, 422))


@router.get("/events", response_model=AuditEventsPublic)
def list_audit_events(
    tenant: CurrentTenant,
    ctx: ContextDep,
    workflow_id: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    since: Annotated[datetime | None, Query(description="inclusive")] = None,
    until: Annotated[datetime | None, Query(description="exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_QUERY_LIMIT)] = 100,
) -> AuditEventsPublic:
    """Events in seq order, optionally for one workflow and a time window."""
    records = AuditWriter(ctx.engine).query(
        tenant, workflow_id=workflow_id, since=since, until=until, limit=limit
    )
    return AuditEventsPublic(data=records, count=len(records))


@router.get("/verify", response_model=AuditVerification)
def verify_audit_log(tenant: CurrentTenant, ctx: ContextDep) -> AuditVerification:
    """Walk the tenant's hash chain; ``ok`` is false with the first untrusted seq if anything was altered."""
    return AuditWriter(ctx.engine).verify(tenant)
