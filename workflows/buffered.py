"""The step and the run both buffer patterns share: extract to chunks, load them, purge them.

Patterns 3.3.1 (local -> cloud) and 3.3.2 (cloud -> local) differ only in which side runs
the extract and which the load; the routing plan says so, and this module reads it. The
row-wise transform is fused into whichever of the two runs where the plan puts the transform,
so rows never cross the buffer (or reach the premises) in a shape the plan did not route.
"""

from __future__ import annotations

from typing import Any, ClassVar

from temporalio import workflow

from workflows import contracts as c
from workflows.derived import build_derived
from workflows.routing import EndpointKind, Location, RoutePlan, StepKind, TransformComplexity, plan_route
from workflows.sync_controls import ControlledSync
from workflows.sync_loop import StepFn, SyncLoop, current_tenant, parse_input
from workflows.sync_types import DerivedResult, SyncResult, SyncState, TableSpec


def transform_in_extract(plan: RoutePlan) -> bool:
    """Whether the extract applies the transform: only when the load runs elsewhere than the transform.

    The loader is preferred when both are on the transform's side (3.3.1), because the rows
    are already decrypted there; for 3.3.2 the cloud extract applies it so the agent receives
    only what the destination is meant to hold.
    """
    at = next((s.location for s in plan.steps if s.kind is StepKind.TRANSFORM), None)
    return at is not None and plan.step(StepKind.LOAD).location is not at


def buffer_owner_queue(plan: RoutePlan) -> str:
    """The cloud side's queue: the buffer is the cloud's store, so it purges it."""
    for kind in (StepKind.LOAD, StepKind.EXTRACT):
        if plan.step(kind).location is Location.CLOUD:
            return plan.step(kind).queue
    raise KeyError(Location.CLOUD)


def buffered_step(loop: SyncLoop, *, plan: RoutePlan) -> StepFn:
    """The batch step of a buffer pattern: one extract, then (if it wrote chunks) load and purge."""
    inp, tenant = loop.inp, loop.tenant
    extract_queue = plan.step(StepKind.EXTRACT).queue
    load_queue = plan.step(StepKind.LOAD).queue
    purge_queue = buffer_owner_queue(plan)
    early = transform_in_extract(plan)
    keep = bool(inp.derived)

    async def step(spec: TableSpec, state: SyncState) -> tuple[c.StepProgress, SyncState]:
        run_id = workflow.info().run_id
        if keep:
            # Derived tables read every chunk of the run at the end: one buffer run id for the
            # whole sync (continue-as-new changes the workflow's), purged once by the derived step.
            run_id = state.buffer_run or run_id
            state = state.model_copy(update={"buffer_run": run_id})
        extracted = await loop.controls.step_activity(
            c.EXTRACT_TO_BUFFER,
            c.ExtractToBufferInput(
                tenant=tenant,
                run_id=run_id,
                read=loop.table_read(spec, state),
                start_seq=state.buffer_seq,
                limits=inp.limits,
                transform=spec.transform if early else None,
            ),
            result_type=c.ExtractToBufferResult,
            task_queue=extract_queue,
            options=loop.step_options(),
        )
        await loop.audit(
            activity=c.EXTRACT_TO_BUFFER,
            action="extract",
            target=f"{inp.source_connection}.{spec.source_table}",
            rows=extracted.progress.rows_read,
        )
        if loop.controls.stopping():
            # Paused (or cancelled) mid-extract: load nothing; the step re-extracts from the same
            # position and sequence numbers when it runs again, overwriting these chunks.
            return c.StepProgress(after=state.after), state
        written = 0
        if extracted.buffer.chunks:
            loaded = await loop.controls.step_activity(
                c.LOAD_FROM_BUFFER,
                c.LoadFromBufferInput(
                    tenant=tenant,
                    buffer=extracted.buffer,
                    destination_connection=inp.destination_connection,
                    destination_table=spec.target,
                    transform=None if early else spec.transform,
                ),
                result_type=c.LoadFromBufferResult,
                task_queue=load_queue,
                options=loop.step_options(),
            )
            written = loaded.rows_written
            await loop.audit(
                activity=c.LOAD_FROM_BUFFER,
                action="load",
                target=f"{inp.destination_connection}.{spec.target}",
                rows=loaded.rows_read,
            )
            if not loaded.complete:
                # Stopped mid-load: count what it wrote, keep the position; the re-run re-applies
                # the applied chunks as no-op upserts and writes the rest.
                return c.StepProgress(after=state.after, rows_written=written), state
        if extracted.buffer.chunks and not keep:
            await workflow.execute_activity(
                c.PURGE_BUFFER,
                c.PurgeBufferInput(tenant=tenant, run_id=run_id),
                task_queue=purge_queue,
                start_to_close_timeout=loop.step_options()["start_to_close_timeout"],
                retry_policy=loop.step_options()["retry_policy"],
            )
        progress = extracted.progress.model_copy(update={"rows_written": written})
        seq = state.buffer_seq + len(extracted.buffer.chunks)
        update: dict[str, Any] = {"buffer_seq": seq}
        if spec.source_table in inp.kept_tables:
            kept = (*state.kept.get(spec.source_table, ()), extracted.buffer)
            update["kept"] = {**state.kept, spec.source_table: kept}
        return progress, state.model_copy(update=update)

    return step


class BufferedSync(ControlledSync):
    """Body of a buffer pattern's workflow class; subclasses name the pattern and its endpoints.

    The ``@workflow.defn`` subclasses keep their own ``run`` and query (the SDK wants them on
    the decorated class) and delegate here; the control signals are inherited.
    """

    PATTERN: ClassVar[str]
    SOURCE: ClassVar[EndpointKind]
    DESTINATION: ClassVar[EndpointKind]
    DERIVED: ClassVar[bool] = False
    """Whether the pattern builds derived tables (3.3.1: they are cloud tables, like its destination)."""

    def __init__(self) -> None:
        super().__init__()
        self._loop: SyncLoop | None = None

    async def sync(self, raw: dict[str, Any]) -> SyncResult:
        """Validate the input, route the steps, run every table through the buffer, then derived ones."""
        inp = parse_input(raw)
        tenant = current_tenant()
        plan = plan_route(
            tenant=tenant,
            source=self.SOURCE,
            destination=self.DESTINATION,
            transform=TransformComplexity.COMPLEX if inp.derived else TransformComplexity.SIMPLE,
            agent=inp.agent,
        )
        loop = self._loop = SyncLoop(pattern=self.PATTERN, inp=inp, tenant=tenant, controls=self._controls)

        async def finish() -> tuple[DerivedResult, ...]:
            return await build_derived(
                loop,
                transform_queue=plan.step(StepKind.TRANSFORM).queue,
                load_queue=plan.step(StepKind.LOAD).queue,
                purge_queue=buffer_owner_queue(plan),
            )

        return await loop.run(
            step=buffered_step(loop, plan=plan),
            source_queue=plan.step(StepKind.EXTRACT).queue,
            destination_queue=plan.step(StepKind.LOAD).queue,
            finish=finish if self.DERIVED else None,
        )

    def state(self) -> SyncState:
        """Where the run is: finished tables and the current one's counts."""
        return self._loop.snapshot() if self._loop else SyncState(controls=self._controls.state)
