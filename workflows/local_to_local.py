"""Pattern 3.1.1: local database to local database, entirely on the agent.

Rows stream from source to destination inside the agent; nothing touches the cloud buffer
and no row appears in the history, only positions and counts.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

from workflows import contracts as c
from workflows.routing import EndpointKind, StepKind, TransformComplexity, plan_route
from workflows.sync_controls import ControlledSync
from workflows.sync_loop import SyncLoop, current_tenant, parse_input
from workflows.sync_types import SyncResult, SyncState, TableSpec

PATTERN = "3.1.1"


@workflow.defn(name="LocalToLocalSync")
class LocalToLocalSync(ControlledSync):
    """Copy tables between two databases the same agent reaches; ``pause``/``resume``/``event`` signals."""

    def __init__(self) -> None:
        super().__init__()
        self._loop: SyncLoop | None = None

    @workflow.run
    async def run(self, raw: dict[str, Any]) -> SyncResult:
        """Sync every table of the input; see :class:`workflows.sync_types.SyncInput`."""
        inp = parse_input(raw)
        tenant = current_tenant()
        plan = plan_route(
            tenant=tenant,
            source=EndpointKind.LOCAL_DB,
            destination=EndpointKind.LOCAL_DB,
            transform=TransformComplexity.SIMPLE,
            agent=inp.agent,
        )
        queue = plan.step(StepKind.SYNC).queue
        loop = self._loop = SyncLoop(pattern=PATTERN, inp=inp, tenant=tenant, controls=self._controls)

        async def step(spec: TableSpec, state: SyncState) -> tuple[c.StepProgress, SyncState]:
            # A pause ends the copy at a batch boundary; its progress is the rows it committed.
            progress = await loop.controls.step_activity(
                c.COPY_TABLE,
                c.CopyTableInput(
                    tenant=tenant,
                    read=loop.table_read(spec, state),
                    destination_connection=inp.destination_connection,
                    destination_table=spec.target,
                    transform=spec.transform,
                    limits=inp.limits,
                ),
                result_type=c.StepProgress,
                task_queue=queue,
                options=loop.step_options(),
            )
            await loop.audit(
                activity=c.COPY_TABLE,
                action="copy",
                target=f"{inp.source_connection}.{spec.source_table}->{inp.destination_connection}.{spec.target}",
                rows=progress.rows_read,
            )
            return progress, state

        return await loop.run(step=step, source_queue=queue, destination_queue=queue)

    @workflow.query
    def progress(self) -> SyncState:
        """Where the run is: finished tables and the current one's counts."""
        return self._loop.snapshot() if self._loop else SyncState(controls=self._controls.state)
