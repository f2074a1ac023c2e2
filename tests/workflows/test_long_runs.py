"""Continue-as-new carries one state object (TESTPLAN R11, PR slice) and cancellation stops a run."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from infra.demo.load import create_and_load
from tests.workflows.harness import Tenant, record_history, running
from workflows.sync_types import SyncResult


def tenant_with_pg(env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str]) -> Tenant:
    src, dst = pg_database("erp"), pg_database("dw")
    create_and_load(src, scale=0.02)
    tenant = Tenant(client=env.client, home=tmp_path)
    tenant.agent_connections = [
        {"name": "erp", "kind": "postgresql", "url": src},
        {"name": "dw", "kind": "postgresql", "url": dst, "write": True},
    ]
    return tenant


@pytest.mark.parametrize("workflow", ["LocalToLocalSync", "LocalToCloudSync"])
async def test_continue_as_new_three_times_keeps_every_row(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str], workflow: str
) -> None:
    tenant = tenant_with_pg(env, tmp_path, pg_database)
    if workflow == "LocalToCloudSync":
        tenant.cloud_connections = [{**tenant.agent_connections[1], "location": "cloud"}]
    body = {
        "agent": tenant.agent,
        "source_connection": "erp",
        "destination_connection": "dw",
        "tables": [{"source_table": "orders", "incremental_column": "updated_at"}],
        # 500 orders, 50 rows per step, 3 steps per run: at least 3 continue-as-new.
        "limits": {"batch_rows": 25, "max_rows": 50},
        "max_steps_per_run": 3,
    }
    async with running(tenant):
        handle = await tenant.start(workflow, body)
        result: SyncResult = await handle.result()
        first = env.client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
        await record_history(first, workflow, "continue_as_new")
        runs = [w async for w in env.client.list_workflows(f"WorkflowId = '{handle.id}'")]
    assert len(runs) >= 4  # the first run plus >= 3 continuations
    table = result.tables[0]
    assert table.verified
    assert table.rows_read == table.source.rows == table.rows_written  # type: ignore[union-attr]
    assert table.cursor is not None


async def test_cancel_stops_the_run(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str]
) -> None:
    tenant = tenant_with_pg(env, tmp_path, pg_database)
    body = {
        "agent": tenant.agent,
        "source_connection": "erp",
        "destination_connection": "dw",
        "tables": [{"source_table": "order_lines"}],
        "limits": {"batch_rows": 10, "heartbeat_seconds": 2},
    }
    async with running(tenant):
        handle = await tenant.start("LocalToLocalSync", body)
        for _ in range(200):
            desc = await handle.describe()
            if desc.raw_description.pending_activities:
                break
            await asyncio.sleep(0.05)
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        await record_history(handle, "LocalToLocalSync", "cancelled")
        assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
