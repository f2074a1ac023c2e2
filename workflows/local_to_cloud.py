"""Pattern 3.3.1: local database -> encrypted buffer -> cloud transform -> cloud database.

The agent extracts and encrypts chunks into the buffer; the cloud worker decrypts, applies
the declarative transform and upserts. The history carries only ``BufferRef`` claim checks.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

from workflows import contracts as c
from workflows.routing import EndpointKind, StepKind, TransformComplexity, plan_route
from workflows.sync_loop import SyncLoop, current_tenant, parse_input
from workflows.sync_types import SyncResult, SyncState, TableSpec

PATTERN = "3.3.1"


@workflow.defn(name="LocalToCloudSync")
class LocalToCloudSync:
    """Move tables from an on-premise database to a cloud database through the buffer."""

    def __init__(self) -> None:
        self._loop: SyncLoop | None = None

    @workflow.run
    async def run(self, raw: dict[str, Any]) -> SyncResult:
        """Sync every table of the input; see :class:`workflows.sync_types.SyncInput`."""
        inp = parse_input(raw)
        tenant = current_tenant()
        plan = plan_route(
            tenant=tenant,
            source=EndpointKind.LOCAL_DB,
            destination=EndpointKind.CLOUD_DB,
            transform=TransformComplexity.SIMPLE,
            agent=inp.agent,
        )
        extract_queue = plan.step(StepKind.EXTRACT).queue
        load_queue = plan.step(StepKind.LOAD).queue
        loop = self._loop = SyncLoop(pattern=PATTERN, inp=inp, tenant=tenant)
        run_id = workflow.info().run_id

        async def step(spec: TableSpec, state: SyncState) -> tuple[c.StepProgress, SyncState]:
            extracted = await workflow.execute_activity(
                c.EXTRACT_TO_BUFFER,
                c.ExtractToBufferInput(
                    tenant=tenant,
                    run_id=run_id,
                    read=loop.table_read(spec, state),
                    start_seq=state.buffer_seq,
                    limits=inp.limits,
                ),
                result_type=c.ExtractToBufferResult,
                task_queue=extract_queue,
                **loop.step_options(),
            )
            await loop.audit(
                activity=c.EXTRACT_TO_BUFFER,
                action="extract",
                target=f"{inp.source_connection}.{spec.source_table}",
                rows=extracted.progress.rows_read,
            )
            written = 0
            if extracted.buffer.chunks:
                loaded = await workflow.execute_activity(
                    c.LOAD_FROM_BUFFER,
                    c.LoadFromBufferInput(
                        tenant=tenant,
                        buffer=extracted.buffer,
                        destination_connection=inp.destination_connection,
                        destination_table=spec.target,
                        transform=spec.transform,
                    ),
                    result_type=c.LoadFromBufferResult,
                    task_queue=load_queue,
                    **loop.step_options(),
                )
                written = loaded.rows_written
                await loop.audit(
                    activity=c.LOAD_FROM_BUFFER,
                    action="load",
                    target=f"{inp.destination_connection}.{spec.target}",
                    rows=loaded.rows_read,
                )
                await workflow.execute_activity(
                    c.PURGE_BUFFER,
                    c.PurgeBufferInput(tenant=tenant, run_id=run_id),
                    task_queue=load_queue,
                    start_to_close_timeout=loop.step_options()["start_to_close_timeout"],
                    retry_policy=loop.step_options()["retry_policy"],
                )
            progress = extracted.progress.model_copy(update={"rows_written": written})
            seq = state.buffer_seq + len(extracted.buffer.chunks)
            return progress, state.model_copy(update={"buffer_seq": seq})

        return await loop.run(step=step, source_queue=extract_queue, destination_queue=load_queue)

    @workflow.query
    def progress(self) -> SyncState:
        """Where the run is: finished tables and the current one's counts."""
        return self._loop.state if self._loop else SyncState()
