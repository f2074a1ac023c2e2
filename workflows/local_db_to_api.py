"""Pattern 3.1.2: a local database table POSTed in batches to a local user API, entirely on the agent.

The agent reads the table in keyset order, applies the row-wise transform and sends each batch
through the API's sandboxed SDK with an idempotency key derived from the run id and the batch
index, so a retried batch is answered from the API's memory instead of stored twice. Rows never
leave the premises and never appear in the history; the run ends by comparing the fingerprint of
what was sent with the fingerprint of the table as transformed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow

from workflows import contracts as c
from workflows.api_steps import call_api, combine, invalid, parse
from workflows.api_types import ApiFlowResult, ApiStepResult, CallApiInput, DbToApiInput
from workflows.routing import EndpointKind, StepKind, TransformComplexity, api_endpoint, plan_route
from workflows.sync_loop import RETRY, current_tenant
from workflows.types import Fingerprint

PATTERN = "3.1.2"


@workflow.defn(name="LocalDbToLocalApi")
class LocalDbToLocalApi:
    """Send a local table's rows to a local user API's write operation."""

    def __init__(self) -> None:
        self._sent = 0

    @workflow.run
    async def run(self, raw: dict[str, Any]) -> ApiFlowResult:
        """Send every row once; see :class:`workflows.api_types.DbToApiInput`."""
        inp = parse(DbToApiInput, raw)
        tenant = current_tenant()
        destination = api_endpoint(inp.api.accessibility, other=EndpointKind.LOCAL_DB)
        if destination is not EndpointKind.LOCAL_API:
            raise invalid(
                f"pattern {PATTERN} sends to a local API; {inp.api.name!r} is not reachable locally"
            )
        plan = plan_route(
            tenant=tenant,
            source=EndpointKind.LOCAL_DB,
            destination=destination,
            transform=TransformComplexity.SIMPLE if inp.transform else TransformComplexity.NONE,
            agent=inp.agent,
        )
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
            pattern=PATTERN,
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

    @workflow.query
    def progress(self) -> int:
        """Records sent so far."""
        return self._sent
