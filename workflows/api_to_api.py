"""One user API's list operation -> encrypted buffer -> cloud transform -> another API's write.

- Pattern 3.3.3 (``LocalApiToInternetApi``): the agent pages through a local API and seals the
  items into the buffer; the cloud transforms and POSTs them to an internet API.
- Pattern 3.2.1 (``InternetApiToInternetApi``, SaaS -> SaaS): both APIs are internet ones, so
  the cloud worker does both steps; the items still pass through the (cloud's) buffer.

Always the buffer, so no item reaches the history whatever its size. The load decrypts the
items, applies the row-wise transform and POSTs them in batches with idempotency keys derived
from the run id and batch index, then purges the run's chunks.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from temporalio import workflow

from workflows import contracts as c
from workflows.api_steps import call_api, invalid, parse
from workflows.api_types import ApiFlowResult, ApiStepResult, ApiToApiInput, CallApiInput, CallApiResult
from workflows.routing import (
    EndpointKind,
    NoAgentError,
    PlanStep,
    StepKind,
    TransformComplexity,
    api_endpoint,
    plan_route,
)
from workflows.sync_loop import RETRY, current_tenant


class _ApiToApi:
    """The flow both patterns share; a subclass names its pattern and the two endpoint kinds."""

    PATTERN: ClassVar[str]
    SOURCE: ClassVar[EndpointKind]
    DESTINATION: ClassVar[EndpointKind]

    def __init__(self) -> None:
        self._steps: list[ApiStepResult] = []

    def _plan(self, inp: ApiToApiInput, tenant: str) -> tuple[PlanStep, PlanStep]:
        """The extract and load steps (one cloud step does both when no endpoint is local)."""
        source = api_endpoint(inp.source.accessibility, other=self.DESTINATION)
        destination = api_endpoint(inp.destination.accessibility, other=source)
        if (source, destination) != (self.SOURCE, self.DESTINATION):
            raise invalid(
                f"pattern {self.PATTERN} reads {self.SOURCE.label} and writes {self.DESTINATION.label}; "
                f"got {source.label} -> {destination.label}"
            )
        try:
            plan = plan_route(
                tenant=tenant,
                source=source,
                destination=destination,
                transform=TransformComplexity.SIMPLE,
                agent=inp.agent,
            )
        except NoAgentError as exc:
            raise invalid(str(exc)) from None
        if not plan.uses_buffer:
            return plan.step(StepKind.SYNC), plan.step(StepKind.SYNC)
        return plan.step(StepKind.EXTRACT), plan.step(StepKind.LOAD)

    async def _run(self, raw: dict[str, Any]) -> ApiFlowResult:
        inp = parse(ApiToApiInput, raw)
        tenant = current_tenant()
        extract, load = self._plan(inp, tenant)
        run_id = workflow.info().run_id
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
            return ApiFlowResult(pattern=self.PATTERN, steps=tuple(self._steps))
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
        return ApiFlowResult(pattern=self.PATTERN, steps=tuple(self._steps))


@workflow.defn(name="LocalApiToInternetApi")
class LocalApiToInternetApi(_ApiToApi):
    """Pattern 3.3.3: list records from an on-premise API, transform them in the cloud, POST them."""

    PATTERN = "3.3.3"
    SOURCE = EndpointKind.LOCAL_API
    DESTINATION = EndpointKind.INTERNET_API

    @workflow.run
    async def run(self, raw: dict[str, Any]) -> ApiFlowResult:
        """Move every listed item once; see :class:`workflows.api_types.ApiToApiInput`."""
        return await self._run(raw)

    @workflow.query
    def progress(self) -> tuple[ApiStepResult, ...]:
        """The steps finished so far."""
        return tuple(self._steps)


@workflow.defn(name="InternetApiToInternetApi")
class InternetApiToInternetApi(_ApiToApi):
    """Pattern 3.2.1: list records from one internet API (a SaaS), transform them, POST them to another."""

    PATTERN = "3.2.1"
    SOURCE = EndpointKind.INTERNET_API
    DESTINATION = EndpointKind.INTERNET_API

    @workflow.run
    async def run(self, raw: dict[str, Any]) -> ApiFlowResult:
        """Move every listed item once; see :class:`workflows.api_types.ApiToApiInput`."""
        return await self._run(raw)

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
