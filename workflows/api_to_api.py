"""Pattern 3.3.3: a local user API -> encrypted buffer -> cloud transform -> an internet API.

The agent pages through the local API's list operation and seals the items into the buffer
(always the buffer: the plan routes this data through it, so no item reaches the history
whatever its size). The cloud worker decrypts them, applies the row-wise transform and POSTs
them in batches to the internet API with idempotency keys derived from the run id and batch
index, then purges the run's chunks.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow

from workflows import contracts as c
from workflows.api_steps import call_api, invalid, parse
from workflows.api_types import ApiFlowResult, ApiStepResult, ApiToApiInput, CallApiInput, CallApiResult
from workflows.routing import EndpointKind, RoutePlan, StepKind, TransformComplexity, api_endpoint, plan_route
from workflows.sync_loop import RETRY, current_tenant

PATTERN = "3.3.3"


def _plan(inp: ApiToApiInput, tenant: str) -> RoutePlan:
    source = api_endpoint(inp.source.accessibility, other=EndpointKind.INTERNET_API)
    destination = api_endpoint(inp.destination.accessibility, other=source)
    if (source, destination) != (EndpointKind.LOCAL_API, EndpointKind.INTERNET_API):
        raise invalid(
            f"pattern {PATTERN} reads a local API and writes an internet API; "
            f"got {source.value} -> {destination.value}"
        )
    return plan_route(
        tenant=tenant,
        source=source,
        destination=destination,
        transform=TransformComplexity.SIMPLE,
        agent=inp.agent,
    )


@workflow.defn(name="LocalApiToInternetApi")
class LocalApiToInternetApi:
    """List records from an on-premise API, transform them in the cloud, POST them to an internet API."""

    def __init__(self) -> None:
        self._steps: list[ApiStepResult] = []

    @workflow.run
    async def run(self, raw: dict[str, Any]) -> ApiFlowResult:
        """Move every listed item once; see :class:`workflows.api_types.ApiToApiInput`."""
        inp = parse(ApiToApiInput, raw)
        tenant = current_tenant()
        plan = _plan(inp, tenant)
        run_id = workflow.info().run_id
        extract = plan.step(StepKind.EXTRACT)
        load = plan.step(StepKind.LOAD)
        listed = await call_api(
            CallApiInput(
                tenant=tenant,
                run_id=run_id,
                step="extract",
                api=inp.source,
                operation=inp.list_operation,
                args=inp.list_args,
                pagination=inp.pagination,
                records_table=inp.records_table,
                inline_max_bytes=0,
            ),
            queue=extract.queue,
            retry=inp.retry,
        )
        self._steps.append(_step("extract", extract.location.value, listed))
        if listed.buffer is None or not listed.buffer.chunks:
            return ApiFlowResult(pattern=PATTERN, steps=tuple(self._steps))
        sent = await call_api(
            CallApiInput(
                tenant=tenant,
                run_id=run_id,
                step="load",
                api=inp.destination,
                operation=inp.operation,
                buffer=listed.buffer,
                transform=inp.transform,
                post=inp.post,
                limits=c.BatchLimits(batch_rows=inp.batch_rows),
            ),
            queue=load.queue,
            retry=inp.retry,
        )
        self._steps.append(_step("transform+load", load.location.value, sent))
        # The buffer is the cloud's store: the cloud side purges it once the load is complete.
        await workflow.execute_activity(
            c.PURGE_BUFFER,
            c.PurgeBufferInput(tenant=tenant, run_id=run_id),
            task_queue=load.queue,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RETRY,
        )
        return ApiFlowResult(pattern=PATTERN, steps=tuple(self._steps))

    @workflow.query
    def progress(self) -> tuple[ApiStepResult, ...]:
        """The steps finished so far."""
        return tuple(self._steps)


def _step(name: str, location: str, result: CallApiResult) -> ApiStepResult:
    return ApiStepResult(
        step=name,
        location=location,
        operation=result.operation,
        calls=result.calls,
        records=result.records,
        fingerprint=result.fingerprint,
    )
