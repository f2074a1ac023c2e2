"""A database table POSTed in batches to a user API, on the side that reaches both.

- Pattern 3.1.2 (``LocalDbToLocalApi``): a local table to a local API, entirely on the agent;
  rows never leave the premises.
- Pattern 3.2.2 (``CloudDbToInternetApi``): a cloud database table to an internet API (a SaaS
  or a partner's API), entirely on the cloud worker.

The side reads the table in keyset order, applies the row-wise transform and sends each batch
through the API's sandboxed SDK with an idempotency key derived from the run id and the batch
index, so a retried batch is answered from the API's memory instead of stored twice. Rows never
appear in the history; the run ends by comparing the fingerprint of what was sent with the
fingerprint of the table as transformed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from temporalio import workflow

from workflows import contracts as c
from workflows.api_steps import call_api, combine, invalid, parse
from workflows.api_types import ApiFlowResult, ApiStepResult, CallApiInput, DbToApiInput
from workflows.routing import (
    EndpointKind,
    NoAgentError,
    StepKind,
    TransformComplexity,
    api_endpoint,
    plan_route,
)
from workflows.sync_loop import RETRY, current_tenant
from workflows.types import Fingerprint


class _DbToApi:
    """The flow both patterns share; a subclass names its pattern and the two endpoint kinds."""

    PATTERN: ClassVar[str]
    SOURCE: ClassVar[EndpointKind]
    DESTINATION: ClassVar[EndpointKind]

    def __init__(self) -> None:
        self._sent = 0

    async def _run(self, raw: dict[str, Any]) -> ApiFlowResult:
        inp = parse(DbToApiInput, raw)
        tenant = current_tenant()
        destination = api_endpoint(inp.api.accessibility, other=self.SOURCE)
        if destination is not self.DESTINATION:
            wanted, got = self.DESTINATION.label, destination.label
            raise invalid(f"pattern {self.PATTERN} writes {wanted}; {inp.api.name!r} is {got}")
        try:
            plan = plan_route(
                tenant=tenant,
                source=self.SOURCE,
                destination=destination,
                transform=TransformComplexity.SIMPLE if inp.transform else TransformComplexity.NONE,
                agent=inp.agent,
            )
        except NoAgentError as exc:
            raise invalid(str(exc)) from None
        queue = plan.step(StepKind.SYNC).queue
        run_id = workflow.info().run_id
        read = c.TableRead(
            connection=inp.source_connection, table=inp.source_table, query=inp.query, key=inp.key
        )
        limits = c.BatchLimits(batch_rows=inp.batch_rows)
        calls = batches = 0
        sent: Fingerprint | None = None
        while True:
            result = await call_api(
                CallApiInput(
                    tenant=tenant,
                    run_id=run_id,
                    step="load",
                    api=inp.api,
                    operation=inp.operation,
                    table=read,
                    first_batch=batches,
                    transform=inp.transform,
                    post=inp.post,
                    limits=limits,
                ),
                queue=queue,
                retry=inp.retry,
            )
            progress = result.progress or c.StepProgress(done=True)
            calls += result.calls
            batches += progress.batches
            self._sent += result.records
            sent = combine(sent, result.fingerprint)
            if progress.done:
                break
            read = read.model_copy(update={"after": progress.after})
        source = await workflow.execute_activity(
            c.FINGERPRINT_TABLE,
            c.FingerprintInput(
                tenant=tenant,
                connection=inp.source_connection,
                table=inp.source_table,
                query=inp.query,
                key=inp.key,
                transform=inp.transform,
            ),
            result_type=c.FingerprintResult,
            task_queue=queue,
            start_to_close_timeout=timedelta(seconds=limits.max_seconds * 4 + 300),
            retry_policy=RETRY,
        )
        location = plan.step(StepKind.SYNC).location.value
        return ApiFlowResult(
            pattern=self.PATTERN,
            steps=(
                ApiStepResult(
                    step="read",
                    location=location,
                    operation=f"{inp.source_connection}.{inp.source_table}",
                    calls=0,
                    records=source.fingerprint.rows,
                    fingerprint=source.fingerprint,
                ),
                ApiStepResult(
                    step="send",
                    location=location,
                    operation=f"{inp.api.name}.{inp.operation}",
                    calls=calls,
                    records=self._sent,
                    fingerprint=sent or Fingerprint(rows=0, content_hash=f"{0:032x}"),
                ),
            ),
        )


@workflow.defn(name="LocalDbToLocalApi")
class LocalDbToLocalApi(_DbToApi):
    """Pattern 3.1.2: send a local table's rows to a local user API's write operation."""

    PATTERN = "3.1.2"
    SOURCE = EndpointKind.LOCAL_DB
    DESTINATION = EndpointKind.LOCAL_API

    @workflow.run
    async def run(self, raw: dict[str, Any]) -> ApiFlowResult:
        """Send every row once; see :class:`workflows.api_types.DbToApiInput`."""
        return await self._run(raw)

    @workflow.query
    def progress(self) -> int:
        """Records sent so far."""
        return self._sent


@workflow.defn(name="CloudDbToInternetApi")
class CloudDbToInternetApi(_DbToApi):
    """Pattern 3.2.2: send a cloud database table's rows to an internet API's write operation."""

    PATTERN = "3.2.2"
    SOURCE = EndpointKind.CLOUD_DB
    DESTINATION = EndpointKind.INTERNET_API

    @workflow.run
    async def run(self, raw: dict[str, Any]) -> ApiFlowResult:
        """Send every row once; see :class:`workflows.api_types.DbToApiInput`."""
        return await self._run(raw)

    @workflow.query
    def progress(self) -> int:
        """Records sent so far."""
        return self._sent
