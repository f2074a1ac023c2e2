"""TESTPLAN R7: transient errors retry until success, terminal errors fail after exactly one attempt."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import errors as e
from tests.workflows.harness import Tenant, record_history, running
from workflows import contracts as c
from workflows.queues import agent_queue
from workflows.sync_types import SyncResult

TRANSIENT = [
    e.HostUnreachableError("connection reset by peer", connection="erp"),
    e.TransientDatabaseError("could not serialize access due to concurrent update", connection="erp"),
    e.TransientDatabaseError("503 service unavailable", connection="erp"),
]
TERMINAL = [
    e.AuthenticationFailedError("password authentication failed", connection="erp"),
    e.SchemaMismatchError("column qty is int64 at the source and string at the destination", column="qty"),
    e.BufferIntegrityError("chunk 3 failed authentication", seq=3),
]


def body(tenant: Tenant) -> dict:
    return {
        "agent": tenant.agent,
        "source_connection": "erp",
        "destination_connection": "dw",
        "tables": [{"source_table": "orders"}],
        "verify": False,
    }


async def run_with_stub(env: WorkflowEnvironment, tmp_path: Path, error: e.VscError, *, fail_times: int):
    attempts: list[int] = []

    @activity.defn(name=c.COPY_TABLE)
    def copy_table(inp: c.CopyTableInput) -> c.StepProgress:
        attempts.append(activity.info().attempt)
        with e.activity_errors():
            if len(attempts) <= fail_times:
                raise error
        return c.StepProgress(rows_read=5, rows_written=5, batches=1, done=True)

    tenant = Tenant(client=env.client, home=tmp_path)
    async with running(tenant, agent=False):
        async with Worker(
            env.client,
            task_queue=agent_queue(tenant.name, tenant.agent),
            activities=[copy_table],
            activity_executor=ThreadPoolExecutor(2),
        ):
            handle = await tenant.start("LocalToLocalSync", body(tenant), wid=f"r7-{uuid.uuid4().hex[:8]}")
            try:
                return await handle.result(), attempts, handle
            except WorkflowFailureError as exc:
                return exc, attempts, handle


@pytest.mark.parametrize("error", TRANSIENT, ids=lambda x: type(x).__name__)
async def test_transient_error_retries_and_succeeds_on_attempt_4(
    env: WorkflowEnvironment, tmp_path: Path, error: e.VscError
) -> None:
    result, attempts, handle = await run_with_stub(env, tmp_path, error, fail_times=3)
    assert isinstance(result, SyncResult), result
    assert attempts == [1, 2, 3, 4]
    assert result.tables[0].rows_written == 5
    await record_history(handle, "LocalToLocalSync", "transient_retries")


@pytest.mark.parametrize("error", TERMINAL, ids=lambda x: type(x).__name__)
async def test_terminal_error_fails_after_one_attempt(
    env: WorkflowEnvironment, tmp_path: Path, error: e.VscError
) -> None:
    result, attempts, handle = await run_with_stub(env, tmp_path, error, fail_times=99)
    assert isinstance(result, WorkflowFailureError)
    cause = result.cause.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == type(error).__name__ and cause.non_retryable
    assert attempts == [1]
    await record_history(handle, "LocalToLocalSync", "terminal_failure")
