"""Pattern 3.4.2 fan-in: parallel extracts from several sources, a cloud merge and dedupe, one load.

Every source is extracted into the run's encrypted buffer on the side that reaches it (the
agent for local databases, the cloud for cloud ones), all at once. The cloud worker then
merges the buffered rows chunk by chunk and keeps one row per key (the greatest
``version_column`` wins, NULL loses; ties go to the earlier source of the input), seals the
survivors into the same buffer, and the destination's side loads them. The merge fingerprints
what it kept, so the run verifies the destination against exactly the rows it meant to load.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows import contracts as c
from workflows.fan_steps import SEQ_STRIDE, extract_all, fingerprint, load_all, purge
from workflows.fan_types import FanInInput, FanInResult, SourceCount
from workflows.routing import FanPlan, LocalOnlyFanError, NoAgentError, plan_fan
from workflows.sync_loop import current_tenant, parse_input, step_options


def route(tenant: str, inp: FanInInput) -> FanPlan:
    """The fan-in's queues, or a non-retryable input error when no valid route exists."""
    try:
        return plan_fan(
            tenant=tenant,
            sources=tuple(s.endpoint.kind for s in inp.sources),
            destinations=(inp.destination.kind,),
            agent=inp.agent,
        )
    except (LocalOnlyFanError, NoAgentError) as exc:
        raise ApplicationError(str(exc), type="InvalidWorkflowInput", non_retryable=True) from None


@workflow.defn(name="FanInSync")
class FanInSync:
    """Merge one table from several sources, deduplicated by key, into one destination."""

    @workflow.run
    async def run(self, raw: dict[str, Any]) -> FanInResult:
        """Fan the sources in; see :class:`workflows.fan_types.FanInInput`."""
        inp = parse_input(raw, FanInInput)
        tenant = current_tenant()
        plan = route(tenant, inp)
        extracted = await asyncio.gather(
            *(
                extract_all(
                    tenant=tenant,
                    read=c.TableRead(
                        connection=src.endpoint.connection, table=src.table, query=src.query, key=inp.key
                    ),
                    queue=step.queue,
                    limits=inp.limits,
                    start_seq=i * SEQ_STRIDE,
                )
                for i, (src, step) in enumerate(zip(inp.sources, plan.extracts, strict=True))
            )
        )
        merged = await workflow.execute_activity(
            c.MERGE_BUFFERS,
            c.MergeBuffersInput(
                tenant=tenant,
                run_id=workflow.info().run_id,
                sources=tuple(e.refs for e in extracted),
                key=inp.key,
                version_column=inp.version_column,
                start_seq=len(inp.sources) * SEQ_STRIDE,
            ),
            result_type=c.MergeBuffersResult,
            task_queue=plan.cloud,
            **step_options(inp.limits),
        )
        load_queue = plan.loads[0].queue
        rows_loaded, written = await load_all(
            tenant=tenant,
            refs=(merged.buffer,),
            connection=inp.destination.connection,
            table=inp.destination_table,
            queue=load_queue,
            limits=inp.limits,
        )
        destination = None
        if inp.verify:
            destination = await fingerprint(
                tenant=tenant,
                connection=inp.destination.connection,
                table=inp.destination_table,
                queue=load_queue,
                limits=inp.limits,
            )
        await purge(tenant=tenant, queue=plan.cloud)
        total = sum(e.rows for e in extracted)
        return FanInResult(
            sources=tuple(
                SourceCount(connection=s.endpoint.connection, rows_read=e.rows, rows_kept=kept)
                for s, e, kept in zip(inp.sources, extracted, merged.kept, strict=True)
            ),
            duplicates_dropped=total - merged.buffer.rows,
            rows_loaded=rows_loaded,
            rows_written=written,
            merged=merged.fingerprint,
            destination=destination,
        )
