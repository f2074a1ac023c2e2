"""The derived-table step of Pattern 3.3.1: set-level plans over the run's buffered tables.

While a sync has derived tables, its extracts keep their chunks (one buffer run id for the
whole sync, see :func:`workflows.buffered.buffered_step`) instead of purging them per batch,
and the state keeps each input table's claim checks, one per extract (each extract seals its
chunks under its own times, so they are handed to the engine as a list, not joined).
Once every table is loaded, each derived table's plan runs in the cloud transform engine over
those chunks, and its output is upserted with the same load activity the tables use, so the
output key decides what an update is. The input chunks are purged once at the end, each
output's chunks right after their load.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows import contracts as c
from workflows.sync_loop import RETRY, SyncLoop
from workflows.sync_types import DerivedResult, DerivedTable
from workflows.transform_plan import TRANSFORM_BUFFERED, TransformBufferedInput, TransformBufferedResult
from workflows.types import Fingerprint

TRANSFORM_TIMEOUT = timedelta(minutes=30)
TRANSFORM_HEARTBEAT = timedelta(seconds=30)


async def build_derived(
    loop: SyncLoop, *, transform_queue: str, load_queue: str, purge_queue: str
) -> tuple[DerivedResult, ...]:
    """Run every derived table of the input, then purge the run's kept chunks (also on failure)."""
    run_id = loop.state.buffer_run or workflow.info().run_id
    try:
        results = []
        for index, derived in enumerate(loop.inp.derived):
            await loop.controls.gate()
            results.append(
                await _build_one(
                    loop,
                    derived,
                    step=f"derived-{index}",
                    run_id=run_id,
                    transform_queue=transform_queue,
                    load_queue=load_queue,
                    purge_queue=purge_queue,
                )
            )
        return tuple(results)
    finally:
        await _purge(loop, run_id=run_id, queue=purge_queue)


async def _build_one(
    loop: SyncLoop,
    derived: DerivedTable,
    *,
    step: str,
    run_id: str,
    transform_queue: str,
    load_queue: str,
    purge_queue: str,
) -> DerivedResult:
    inp, tenant = loop.inp, loop.tenant
    out = await workflow.execute_activity(
        TRANSFORM_BUFFERED,
        TransformBufferedInput(
            tenant=tenant,
            run_id=run_id,
            step=step,
            plan=derived.plan,
            inputs={name: loop.state.kept[name] for name in derived.plan.inputs},
        ),
        result_type=TransformBufferedResult,
        task_queue=transform_queue,
        start_to_close_timeout=TRANSFORM_TIMEOUT,
        heartbeat_timeout=TRANSFORM_HEARTBEAT,
        retry_policy=RETRY,
    )
    target = f"{inp.destination_connection}.{derived.destination_table}"
    try:
        if not out.buffer.table_schema.primary_key:
            raise ApplicationError(
                f"derived table {derived.destination_table!r}: the plan's output has no key to upsert "
                "on; set the plan's `output_key`",
                type="InvalidWorkflowInput",
                non_retryable=True,
            )
        loaded = await workflow.execute_activity(
            c.LOAD_FROM_BUFFER,
            c.LoadFromBufferInput(
                tenant=tenant,
                buffer=out.buffer,
                destination_connection=inp.destination_connection,
                destination_table=derived.destination_table,
            ),
            result_type=c.LoadFromBufferResult,
            task_queue=load_queue,
            **loop.step_options(),
        )
        await loop.audit(activity=c.LOAD_FROM_BUFFER, action="load", target=target, rows=loaded.rows_read)
    finally:
        await _purge(loop, run_id=out.buffer.run_id, queue=purge_queue)
    destination: Fingerprint | None = None
    if inp.verify:
        fp = await workflow.execute_activity(
            c.FINGERPRINT_TABLE,
            c.FingerprintInput(
                tenant=tenant, connection=inp.destination_connection, table=derived.destination_table
            ),
            result_type=c.FingerprintResult,
            task_queue=load_queue,
            **loop.step_options(),
        )
        destination = fp.fingerprint
        await loop.audit(activity=c.FINGERPRINT_TABLE, action="verify", target=target, rows=destination.rows)
    return DerivedResult(
        destination_table=derived.destination_table,
        rows=out.rows,
        rows_written=loaded.rows_written,
        output=out.fingerprint,
        destination=destination,
    )


async def _purge(loop: SyncLoop, *, run_id: str, queue: str) -> None:
    await workflow.execute_activity(
        c.PURGE_BUFFER,
        c.PurgeBufferInput(tenant=loop.tenant, run_id=run_id),
        task_queue=queue,
        start_to_close_timeout=loop.step_options()["start_to_close_timeout"],
        retry_policy=RETRY,
    )
