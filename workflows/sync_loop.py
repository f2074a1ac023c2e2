"""The loop every table-sync workflow shares: tables in order, batches until done, then verify.

Each pattern supplies one ``step`` coroutine that moves the next slice of a table; this
module owns cursors, continue-as-new, verification and auditing, so the patterns differ
only in where their steps run. Every step first passes the run's control gate
(:mod:`workflows.sync_controls`); a pass that events arrived during is followed by another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, NoReturn, TypeVar, overload

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from workflows import contracts as c
from workflows.queues import QueueNameError, parse_queue
from workflows.sync_controls import Controls, StepInterrupted
from workflows.sync_types import DerivedResult, SyncInput, SyncResult, SyncState, TableResult, TableSpec
from workflows.types import Fingerprint

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=20,
)
"""Transient failures retry with backoff; our Terminal errors are non-retryable at the source."""

SHORT = timedelta(seconds=30)


M = TypeVar("M", bound=BaseModel)


@overload
def parse_input(raw: Any) -> SyncInput: ...
@overload
def parse_input(raw: Any, model: type[M]) -> M: ...
def parse_input(raw: Any, model: type[BaseModel] = SyncInput) -> BaseModel:
    """Validate a workflow's JSON input (a :class:`SyncInput` unless ``model`` says otherwise).

    Raises:
        ApplicationError: ``InvalidWorkflowInput``, non-retryable, carrying pydantic's message.
    """
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ApplicationError(
            f"invalid workflow input: {exc}", type="InvalidWorkflowInput", non_retryable=True
        ) from None


REPLAY_QUEUE_PREFIX = "replay-"
REPLAY_TENANT = "replay"


def current_tenant() -> str:
    """The tenant this workflow belongs to, derived from the queue it runs on, never from input.

    The SDK's ``Replayer`` runs histories on a synthetic ``replay-<build id>`` queue that no
    worker of ours ever serves; there a placeholder tenant stands in. It changes only the
    queue names and inputs of scheduled commands, which replay does not compare, so replay
    still checks every command the workflow issues.
    """
    queue = workflow.info().task_queue
    if queue.startswith(REPLAY_QUEUE_PREFIX):
        return REPLAY_TENANT
    try:
        return parse_queue(queue).tenant
    except QueueNameError as exc:
        raise ApplicationError(str(exc), type="InvalidTaskQueue", non_retryable=True) from None


StepFn = Callable[[TableSpec, SyncState], Awaitable[tuple[c.StepProgress, SyncState]]]
FinishFn = Callable[[], Awaitable[tuple[DerivedResult, ...]]]


class SyncLoop:
    """Drive one sync run; ``progress`` is what the workflow's query returns."""

    def __init__(self, *, pattern: str, inp: SyncInput, tenant: str, controls: Controls) -> None:
        self.pattern = pattern
        self.inp = inp
        self.tenant = tenant
        self.state = inp.state
        self.pipeline = inp.pipeline or workflow.info().workflow_id
        self.controls = controls
        controls.bind(inp=inp, tenant=tenant, started=self._pass_started)

    def _pass_started(self) -> bool:
        """Whether this pass has begun reading: an event after that may refer to rows it missed."""
        cur = self.state.current
        return (
            self.state.table_index > 0
            or (cur is not None and cur.batches > 0)
            or self.controls.inflight is not None
        )

    def snapshot(self) -> SyncState:
        """The state with the run's current controls, for the ``progress`` query and continue-as-new."""
        return self.state.model_copy(update={"controls": self.controls.state})

    async def run(
        self, *, step: StepFn, source_queue: str, destination_queue: str, finish: FinishFn | None = None
    ) -> SyncResult:
        """Run every table to completion, continuing-as-new when the history gets long.

        Args:
            step: Moves the next slice of a table and returns its progress.
            source_queue: Queue of the workers that reach the source (for verification).
            destination_queue: Queue of the workers that reach the destination.
            finish: Builds the input's derived tables once every table is done; a pattern
                without it refuses an input that has any.
        """
        if self.inp.derived and finish is None:
            raise ApplicationError(
                f"invalid workflow input: derived tables run in pattern 3.3.1 only, not {self.pattern}",
                type="InvalidWorkflowInput",
                non_retryable=True,
            )
        steps = 0
        while self.state.table_index < len(self.inp.tables):
            spec = self.inp.tables[self.state.table_index]
            if self.state.current is None:
                self.state = self.state.model_copy(
                    update={
                        "current": TableResult(source_table=spec.source_table, destination_table=spec.target),
                        "after": None,
                        "since": await self._load_cursor(spec),
                    }
                )
            await self.controls.gate()
            try:
                progress, self.state = await step(spec, self.state)
            except StepInterrupted:
                progress = c.StepProgress(after=self.state.after)
            self._absorb(progress)
            steps += 1
            if progress.done:
                await self._finish_table(spec, source_queue=source_queue, destination_queue=destination_queue)
            elif steps >= self.inp.max_steps_per_run or workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                self._continue(self.snapshot().model_copy(update={"continued": self.state.continued + 1}))
        derived = await finish() if finish is not None and self.inp.derived else ()
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self.controls.enabled and self.controls.state.rerun:
            # A fresh table loop under the same pipeline: it starts from the cursors just saved.
            ctl = self.controls.state
            self._continue(
                SyncState(controls=ctl.model_copy(update={"rerun": False, "passes": ctl.passes + 1}))
            )
        return SyncResult(pattern=self.pattern, tables=self.state.done, derived=derived)

    def _continue(self, state: SyncState) -> NoReturn:
        # Runs are pinned to their build; the next run starts on the current one, so a long sync
        # moves to new code here, carrying only ``state`` (docs/deploy.md).
        workflow.continue_as_new(
            self.inp.model_copy(update={"state": state}).model_dump(mode="json"),
            initial_versioning_behavior=workflow.ContinueAsNewVersioningBehavior.AUTO_UPGRADE,
        )

    def _absorb(self, progress: c.StepProgress) -> None:
        cur = self.state.current
        assert cur is not None
        # Batches arrive ordered by (cursor column, key), so the newest step's cursor is the maximum.
        cursor = cur.cursor if progress.max_cursor is None else progress.max_cursor
        self.state = self.state.model_copy(
            update={
                "after": progress.after,
                "current": cur.model_copy(
                    update={
                        "rows_read": cur.rows_read + progress.rows_read,
                        "rows_written": cur.rows_written + progress.rows_written,
                        "batches": cur.batches + progress.batches,
                        "cursor": cursor,
                    }
                ),
            }
        )

    async def _finish_table(self, spec: TableSpec, *, source_queue: str, destination_queue: str) -> None:
        cur = self.state.current
        assert cur is not None
        if spec.incremental_column and cur.cursor is not None:
            key = c.SyncStateKey(tenant=self.tenant, pipeline=self.pipeline, table=spec.source_table)
            await workflow.execute_activity(
                c.SAVE_SYNC_STATE,
                c.SaveSyncStateInput(key=key, cursor=cur.cursor),
                start_to_close_timeout=SHORT,
                retry_policy=RETRY,
            )
        if self.inp.verify:
            await self.controls.gate()
            src, dst = await self._fingerprints(
                spec, source_queue=source_queue, destination_queue=destination_queue
            )
            cur = cur.model_copy(update={"source": src, "destination": dst})
            await self.audit(
                activity=c.FINGERPRINT_TABLE,
                action="verify",
                target=f"{self.inp.source_connection}.{spec.source_table}->{self.inp.destination_connection}.{spec.target}",
                rows=src.rows + dst.rows,
            )
        self.state = self.state.model_copy(
            update={
                "table_index": self.state.table_index + 1,
                "done": (*self.state.done, cur),
                "current": None,
                "after": None,
                "since": None,
            }
        )

    async def _fingerprints(
        self, spec: TableSpec, *, source_queue: str, destination_queue: str
    ) -> tuple[Fingerprint, Fingerprint]:
        """Fingerprint the source as the transform would write it, and the destination, in parallel."""
        src, dst = await asyncio.gather(
            workflow.execute_activity(
                c.FINGERPRINT_TABLE,
                c.FingerprintInput(
                    tenant=self.tenant,
                    connection=self.inp.source_connection,
                    table=spec.source_table,
                    transform=spec.transform,
                    query=spec.query,
                    key=spec.key,
                ),
                result_type=c.FingerprintResult,
                task_queue=source_queue,
                **self.step_options(),
            ),
            workflow.execute_activity(
                c.FINGERPRINT_TABLE,
                c.FingerprintInput(
                    tenant=self.tenant, connection=self.inp.destination_connection, table=spec.target
                ),
                result_type=c.FingerprintResult,
                task_queue=destination_queue,
                **self.step_options(),
            ),
        )
        return src.fingerprint, dst.fingerprint

    def table_read(self, spec: TableSpec, state: SyncState) -> c.TableRead:
        """What the next step reads: the table from the saved cursor, after the last position."""
        return c.TableRead(
            connection=self.inp.source_connection,
            table=spec.source_table,
            incremental_column=spec.incremental_column,
            since=state.since,
            after=state.after,
            query=spec.query,
            key=spec.key,
        )

    async def _load_cursor(self, spec: TableSpec) -> Any:
        if not spec.incremental_column:
            return None
        key = c.SyncStateKey(tenant=self.tenant, pipeline=self.pipeline, table=spec.source_table)
        res = await workflow.execute_activity(
            c.GET_SYNC_STATE,
            key,
            result_type=c.SyncStateResult,
            start_to_close_timeout=SHORT,
            retry_policy=RETRY,
        )
        return res.cursor

    async def audit(self, *, activity: str, action: str, target: str, rows: int) -> None:
        """Append an audit event for a step whose worker (the agent) cannot write the trail itself."""
        await audit(tenant=self.tenant, activity=activity, action=action, target=target, rows=rows)

    def step_options(self) -> dict[str, Any]:
        """Timeouts for a batch step: bounded by the batch budget, heartbeats prove liveness."""
        return step_options(self.inp.limits)


async def audit(*, tenant: str, activity: str, action: str, target: str, rows: int) -> None:
    """Append an audit event (a local activity on the cloud worker) for a step of this run."""
    info = workflow.info()
    await workflow.execute_local_activity(
        c.RECORD_AUDIT,
        c.AuditInput(
            tenant=tenant,
            workflow_id=info.workflow_id,
            run_id=info.run_id,
            activity=activity,
            action=action,
            target=target,
            rows=rows,
        ),
        start_to_close_timeout=SHORT,
        retry_policy=RETRY,
    )


def step_options(limits: c.BatchLimits) -> dict[str, Any]:
    """Timeouts for a batch step: bounded by the batch budget, heartbeats prove liveness."""
    return {
        "start_to_close_timeout": timedelta(seconds=limits.max_seconds * 4 + 300),
        "heartbeat_timeout": timedelta(seconds=limits.heartbeat_seconds),
        "retry_policy": RETRY,
    }
