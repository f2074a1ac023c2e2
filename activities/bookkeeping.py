"""Cloud-side bookkeeping activities: incremental cursors, the audit trail and the control flags.

They run on the cloud worker, which owns the metadata store; the agent never touches it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine
from temporalio import activity

from activities.errors import activity_errors
from activities.metadata import (
    AuditEvent,
    AuditWriter,
    get_sync_state,
    pauses_for,
    save_sync_state,
    tenant_session,
)
from activities.sync_steps import check_tenant
from workflows import contracts as c


class Bookkeeping:
    """Activities over the metadata store; one instance per cloud worker."""

    def __init__(self, *, engine: Engine) -> None:
        self.engine = engine
        self.audit = AuditWriter(engine)

    @activity.defn(name=c.GET_SYNC_STATE)
    def get_sync_state(self, key: c.SyncStateKey) -> c.SyncStateResult:
        """The cursor saved by the last successful run of this pipeline's table."""
        with activity_errors():
            check_tenant(key.tenant)
            with tenant_session(self.engine, key.tenant) as session:
                state = get_sync_state(session, tenant_id=key.tenant, pipeline=key.pipeline, table=key.table)
            return c.SyncStateResult(cursor=(state or {}).get("cursor"))

    @activity.defn(name=c.SAVE_SYNC_STATE)
    def save_sync_state(self, inp: c.SaveSyncStateInput) -> None:
        """Persist a table's cursor after its data is committed at the destination."""
        with activity_errors():
            key = inp.key
            check_tenant(key.tenant)
            with tenant_session(self.engine, key.tenant) as session:
                save_sync_state(
                    session,
                    tenant_id=key.tenant,
                    pipeline=key.pipeline,
                    table=key.table,
                    cursor={"cursor": inp.cursor},
                )

    @activity.defn(name=c.RECORD_AUDIT)
    def record_audit(self, inp: c.AuditInput) -> int:
        """Append one event to the tenant's hash-chained audit trail; returns its sequence number."""
        with activity_errors():
            check_tenant(inp.tenant)
            return self.audit.append(
                inp.tenant,
                AuditEvent(
                    workflow_id=inp.workflow_id,
                    run_id=inp.run_id,
                    activity=inp.activity,
                    action=inp.action,
                    target=inp.target,
                    rows=inp.rows,
                    bytes=0,
                    outcome=inp.outcome,
                ),
            )

    @activity.defn(name=c.READ_CONTROLS)
    def read_controls(self, inp: c.ReadControlsInput) -> c.ReadControlsResult:
        """The pauses that hold a run (tenant, its connections, its agent); run as a local activity."""
        with activity_errors():
            check_tenant(inp.tenant)
            return c.ReadControlsResult(
                paused_by=pauses_for(
                    self.engine, tenant_id=inp.tenant, connections=inp.connections, agent=inp.agent
                )
            )

    def integrity_hook(self, action: str, fields: Mapping[str, str]) -> None:
        """Buffer audit hook: record every refused chunk in the reading tenant's trail."""
        info = activity.info() if activity.in_activity() else None
        self.audit.append(
            fields["caller_tenant"],
            AuditEvent(
                workflow_id=info.workflow_id if info else "",
                run_id=info.workflow_run_id if info else "",
                activity=info.activity_type if info else "",
                action=action,
                target=f"buffer:{fields['run_id']}/{fields['seq']}",
                rows=0,
                bytes=0,
                outcome="refused",
                details={"reason": fields["reason"], "buffer_tenant": fields["tenant"]},
            ),
        )

    def all(self) -> list[Any]:
        """Every activity of this class, for ``Worker(activities=...)``."""
        return [self.get_sync_state, self.save_sync_state, self.record_audit, self.read_controls]
