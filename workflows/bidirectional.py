"""Pattern 3.4.3: bidirectional sync of two tables, with conflict policies and no echoes.

One run is one sync round: collect each side's changes since its cursor (in parallel, each
where its side lives), reconcile them by key on the agent (or the cloud when both sides are
in the cloud), apply the agreed rows to both sides, mark them in both shadows, then save the
cursors. Periodic syncing is one run per period, so a run's history stays about 100 events
long and needs no continue-as-new.

State kept across runs lives in durable stores, not in the workflow: the cursors in the
metadata store (as every incremental pattern keeps them), the last-agreed row hashes in a
shadow table next to each side's data (marked only once both sides hold the agreed rows, so
the two shadows never disagree), the parked conflicts in the metadata store where the console
lists them. A run can therefore be terminated, redeployed or replaced without losing
anything, and the console reads conflicts without querying a workflow.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows import bidi_types as b
from workflows import contracts as c
from workflows.routing import plan_bidirectional
from workflows.sync_loop import RETRY, SHORT, audit, current_tenant
from workflows.types import BufferRef

PATTERN = "3.4.3"
SIDES: tuple[b.SideName, ...] = ("left", "right")


def parse_bidi_input(raw: Any) -> b.BidiInput:
    """Validate the run's JSON input.

    Raises:
        ApplicationError: ``InvalidWorkflowInput``, non-retryable, carrying pydantic's message.
    """
    try:
        return b.BidiInput.model_validate(raw)
    except ValidationError as exc:
        raise ApplicationError(
            f"invalid workflow input: {exc}", type="InvalidWorkflowInput", non_retryable=True
        ) from None


def shadow_table(pipeline: str, side: b.SideName) -> str:
    """Name of the shadow table of ``side``, in that side's database."""
    return f"_vsc_bidi_{pipeline}_{side}"


@workflow.defn(name="BidirectionalSync")
class BidirectionalSync:
    """Sync two tables both ways once; see :class:`workflows.bidi_types.BidiInput`."""

    def __init__(self) -> None:
        self._stage = "starting"

    @workflow.query
    def progress(self) -> str:
        """The stage of the round: collecting, reconciling, applying, marking, saving cursors."""
        return self._stage

    @workflow.run
    async def run(self, raw: dict[str, Any]) -> b.BidiResult:
        """Collect, reconcile, park, apply, save the cursors, purge the buffer."""
        inp = parse_bidi_input(raw)
        self.inp, self.tenant = inp, current_tenant()
        route = plan_bidirectional(
            tenant=self.tenant, left=inp.left.endpoint, right=inp.right.endpoint, agent=inp.agent
        )
        queues: dict[b.SideName, str] = {"left": route.left, "right": route.right}
        run_id = workflow.info().run_id
        buffers = {"left": f"{run_id}.left", "right": f"{run_id}.right", "agreed": f"{run_id}.agreed"}

        pending = await workflow.execute_activity(
            b.LIST_CONFLICTS,
            b.ConflictQuery(tenant=self.tenant, pipeline=inp.pipeline),
            result_type=b.OpenConflicts,
            start_to_close_timeout=SHORT,
            retry_policy=RETRY,
        )
        include = tuple(r.row_key for r in pending.resolutions)
        self._stage = "collecting changes on both sides"

        async def collect(side: b.SideName) -> b.CollectResult:
            spec = inp.side(side)
            result = await workflow.execute_activity(
                b.BIDI_COLLECT,
                b.CollectInput(
                    tenant=self.tenant,
                    run_id=buffers[side],
                    side=side,
                    connection=spec.connection,
                    table=spec.table,
                    shadow_table=shadow_table(inp.pipeline, side),
                    change_column=inp.change_column,
                    since=await self._cursor(side),
                    include_keys=include,
                    limits=inp.limits,
                ),
                result_type=b.CollectResult,
                task_queue=queues[side],
                **self._step_options(),
            )
            await self._audit(b.BIDI_COLLECT, "extract", f"{spec.connection}.{spec.table}", result.rows_read)
            return result

        left, right = await asyncio.gather(collect("left"), collect("right"))
        self._stage = f"reconciling {left.changed:,} left and {right.changed:,} right change(s)"
        rec = await workflow.execute_activity(
            b.BIDI_RECONCILE,
            b.ReconcileInput(
                tenant=self.tenant,
                run_id=buffers["agreed"],
                left=left.buffer,
                right=right.buffer,
                change_column=inp.change_column,
                policy=inp.policy,
                priority=inp.priority,
                tie_winner=inp.tie_winner,
                parked=pending.parked,
                resolutions=pending.resolutions,
                limits=inp.limits,
            ),
            result_type=b.ReconcileResult,
            task_queue=route.reconcile,
            **self._step_options(),
        )
        parked = 0
        if rec.new_conflicts:
            parked = await workflow.execute_activity(
                b.PARK_CONFLICTS,
                b.ParkInput(
                    tenant=self.tenant,
                    pipeline=inp.pipeline,
                    left_table=inp.left.table,
                    right_table=inp.right.table,
                    workflow_id=workflow.info().workflow_id,
                    conflicts=rec.new_conflicts,
                ),
                result_type=int,
                start_to_close_timeout=SHORT,
                retry_policy=RETRY,
            )

        read = {"left": left.buffer, "right": right.buffer}

        async def apply(side: b.SideName, activity: str) -> int:
            if not rec.agreed.chunks:
                return 0
            spec = inp.side(side)
            return await workflow.execute_activity(
                activity,
                b.ApplyInput(
                    tenant=self.tenant,
                    connection=spec.connection,
                    table=spec.table,
                    shadow_table=shadow_table(inp.pipeline, side),
                    agreed=rec.agreed,
                    read=read[side],
                ),
                result_type=int,
                task_queue=queues[side],
                **self._step_options(),
            )

        self._stage = f"applying {rec.agreed.rows:,} agreed row(s) to both sides"
        written_left, written_right = await asyncio.gather(
            apply("left", b.BIDI_APPLY), apply("right", b.BIDI_APPLY)
        )
        for side in SIDES if rec.agreed.chunks else ():
            spec = inp.side(side)
            await self._audit(b.BIDI_APPLY, "load", f"{spec.connection}.{spec.table}", rec.agreed.rows)
        # Both sides hold the agreed rows: only now may their shadows say so (see bidi_mark).
        self._stage = "marking the agreed rows in both shadows"
        marked = await asyncio.gather(apply("left", b.BIDI_MARK), apply("right", b.BIDI_MARK))
        # A side's agreed rows left unmarked are those it changed after this round read them.
        skipped = [rec.agreed.rows - n if rec.agreed.chunks else 0 for n in marked]
        self._stage = "saving cursors"
        if rec.resolved:
            await workflow.execute_activity(
                b.CLOSE_CONFLICTS,
                b.CloseInput(tenant=self.tenant, conflict_ids=rec.resolved),
                result_type=int,
                start_to_close_timeout=SHORT,
                retry_policy=RETRY,
            )
        # Cursors move only once both sides hold the agreed rows: a run that dies earlier is
        # redone from the old cursors, and the upserts make the redo write nothing twice.
        await asyncio.gather(
            self._save_cursor("left", left.max_cursor), self._save_cursor("right", right.max_cursor)
        )
        await self._purge([left.buffer, right.buffer, rec.agreed], queue=route.reconcile)
        return b.BidiResult(
            left=b.SideResult(
                rows_read=left.rows_read,
                changed=left.changed,
                rows_written=written_left,
                skipped_changed=skipped[0],
                cursor=left.max_cursor,
            ),
            right=b.SideResult(
                rows_read=right.rows_read,
                changed=right.changed,
                rows_written=written_right,
                skipped_changed=skipped[1],
                cursor=right.max_cursor,
            ),
            conflicts=rec.conflicts,
            parked=parked,
            held=rec.held,
            resolved=len(rec.resolved),
        )

    def _key(self, side: b.SideName) -> c.SyncStateKey:
        return c.SyncStateKey(tenant=self.tenant, pipeline=self.inp.pipeline, table=f"bidi_{side}")

    async def _cursor(self, side: b.SideName) -> Any:
        res = await workflow.execute_activity(
            c.GET_SYNC_STATE,
            self._key(side),
            result_type=c.SyncStateResult,
            start_to_close_timeout=SHORT,
            retry_policy=RETRY,
        )
        return res.cursor

    async def _save_cursor(self, side: b.SideName, cursor: Any) -> None:
        if cursor is None:
            return
        await workflow.execute_activity(
            c.SAVE_SYNC_STATE,
            c.SaveSyncStateInput(key=self._key(side), cursor=cursor),
            start_to_close_timeout=SHORT,
            retry_policy=RETRY,
        )

    async def _purge(self, refs: list[BufferRef], *, queue: str) -> None:
        """Delete the run's chunks; the buffer's TTL sweeper catches anything this misses."""
        await asyncio.gather(
            *(
                workflow.execute_activity(
                    c.PURGE_BUFFER,
                    c.PurgeBufferInput(tenant=self.tenant, run_id=ref.run_id),
                    task_queue=queue,
                    start_to_close_timeout=SHORT,
                    retry_policy=RETRY,
                )
                for ref in refs
            )
        )

    async def _audit(self, activity: str, action: str, target: str, rows: int) -> None:
        """Audit a step the agent ran: it cannot write the trail itself."""
        await audit(tenant=self.tenant, activity=activity, action=action, target=target, rows=rows)

    def _step_options(self) -> dict[str, Any]:
        limits = self.inp.limits
        return {
            "start_to_close_timeout": timedelta(seconds=limits.max_seconds * 4 + 300),
            "heartbeat_timeout": timedelta(seconds=limits.heartbeat_seconds),
            "retry_policy": RETRY,
        }
