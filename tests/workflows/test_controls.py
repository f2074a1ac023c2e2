"""Pause, resume, cancel and terminate while paused, and events: real server, real workers, PostgreSQL.

A copy is held mid-step deterministically: the test locks the source table, starts the run and
pauses it while the step is blocked, then releases the lock; the step commits at most a batch
or two, notices the cancel at its next heartbeat and returns what it committed. No assertion
is on timing: "no rows while paused" is two equal counts around a window.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.metadata import make_engine, set_paused
from tests.workflows.harness import Tenant, record_history, running
from workflows.queues import cloud_queue
from workflows.sync_types import ControlSignal, SyncResult, WorkflowEvent

ROWS = 20_000
BATCH = 100
WINDOW_S = 3.0
"""How long a paused run is watched for writes (a window, not an assertion)."""


def make_source(url: str, rows: int = ROWS) -> None:
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE TABLE items (id integer PRIMARY KEY, v text NOT NULL)")
        db.execute("INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, %s) g", (rows,))


def pg_tenant(
    env: WorkflowEnvironment,
    home: Path,
    pg_database: Callable[[str], str],
    *,
    buffered: bool,
    cloud_source: bool = False,
) -> Tenant:
    src, dst = pg_database("erp"), pg_database("dw")
    make_source(src)
    home.mkdir(parents=True, exist_ok=True)
    tenant = Tenant(client=env.client, home=home)
    tenant.agent_connections = [
        {"name": "erp", "kind": "postgresql", "url": src},
        {"name": "dw", "kind": "postgresql", "url": dst, "write": True},
    ]
    if cloud_source:
        tenant.cloud_connections = [{**tenant.agent_connections[0], "location": "cloud"}]
    elif buffered:
        tenant.cloud_connections = [{**tenant.agent_connections[1], "location": "cloud"}]
    return tenant


def body(tenant: Tenant, **extra: Any) -> dict[str, Any]:
    return {
        "agent": tenant.agent,
        "source_connection": "erp",
        "destination_connection": "dw",
        "tables": [{"source_table": "items"}],
        "limits": {"batch_rows": BATCH, "max_rows": 5_000},
        **extra,
    }


def url_of(tenant: Tenant, name: str) -> str:
    return next(c["url"] for c in tenant.agent_connections if c["name"] == name)


def dst_stats(tenant: Tenant) -> tuple[int, int]:
    """(rows, duplicated keys) at the destination; (0, 0) before the table exists."""
    with psycopg.connect(url_of(tenant, "dw")) as db:
        if db.execute("SELECT to_regclass('items')").fetchone() == (None,):
            return 0, 0
        row = db.execute("SELECT count(*), count(*) - count(DISTINCT id) FROM items").fetchone()
        assert row is not None
        return int(row[0]), int(row[1])


def lost(tenant: Tenant) -> int:
    with psycopg.connect(url_of(tenant, "erp")) as s, psycopg.connect(url_of(tenant, "dw")) as d:
        src = {r[0] for r in s.execute("SELECT id FROM items")}
        dst = {r[0] for r in d.execute("SELECT id FROM items")}
    return len(src - dst)


@asynccontextmanager
async def source_locked(tenant: Tenant) -> AsyncIterator[psycopg.Connection]:
    """Hold an exclusive lock on the source table: a step reading it blocks until release."""
    db = psycopg.connect(url_of(tenant, "erp"))
    db.execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
    try:
        yield db
    finally:
        db.rollback()
        db.close()


async def until(check: Callable[[], Any], *, what: str, attempts: int = 600) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy (bounded)."""
    for _ in range(attempts):
        got = check()
        if asyncio.iscoroutine(got):
            got = await got
        if got:
            return got
        await asyncio.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


async def progress(handle: WorkflowHandle) -> dict[str, Any]:
    return await handle.query("progress")


async def step_started(handle: WorkflowHandle) -> bool:
    desc = await handle.describe()
    return any(
        p.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
        for p in desc.raw_description.pending_activities
    )


async def is_paused(handle: WorkflowHandle) -> dict[str, Any] | None:
    """The progress once the run waits in its gate with no activity in flight."""
    state = await progress(handle)
    desc = await handle.describe()
    if state["controls"]["paused"] and not desc.raw_description.pending_activities:
        return state
    return None


async def pause_mid_step(handle: WorkflowHandle, tenant: Tenant, sig: ControlSignal) -> dict[str, Any]:
    """Pause while the first step is blocked on the source lock; return the paused progress."""
    async with source_locked(tenant):
        await until(lambda: step_started(handle), what="the first step to start")
        await handle.signal("pause", sig)
    return await until(lambda: is_paused(handle), what="the run to pause")


async def assert_no_writes_while_paused(tenant: Tenant, state: dict[str, Any]) -> int:
    before, _ = dst_stats(tenant)
    await asyncio.sleep(WINDOW_S)
    after, _ = dst_stats(tenant)
    assert before == after, "rows were written while the run was paused"
    assert 0 < before < ROWS, "the pause did not land mid-table"
    current = state["current"]
    assert current["rows_written"] == before == current["rows_read"], "the stopped step's progress is exact"
    return before


@pytest.mark.parametrize("workflow", ["LocalToLocalSync", "LocalToCloudSync", "CloudToLocalSync"])
async def test_pause_signal_stops_the_copy_and_resume_completes_it_exactly(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str], workflow: str
) -> None:
    tenant = pg_tenant(
        env,
        tmp_path,
        pg_database,
        buffered=workflow != "LocalToLocalSync",
        cloud_source=workflow == "CloudToLocalSync",
    )
    sig = ControlSignal(scope="connection", name="erp", reason="test")
    async with running(tenant):
        handle = await tenant.start(workflow, body(tenant))
        state = await pause_mid_step(handle, tenant, sig)
        assert state["controls"]["paused_by"] == ["connection:erp"]
        if workflow == "LocalToLocalSync":
            await assert_no_writes_while_paused(tenant, state)
        else:
            # The buffered step loads nothing of an interrupted extract: counts stay where they were.
            before, _ = dst_stats(tenant)
            await asyncio.sleep(WINDOW_S)
            assert dst_stats(tenant)[0] == before < ROWS
        await handle.signal("resume", sig)
        result: SyncResult = await handle.result()
        await record_history(handle, workflow, "pause_resume")
    table = result.tables[0]
    assert table.verified
    assert table.rows_read == table.rows_written == ROWS
    assert dst_stats(tenant) == (ROWS, 0) and lost(tenant) == 0


async def test_flag_set_before_start_holds_the_run_until_resumed(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str]
) -> None:
    tenant = pg_tenant(env, tmp_path, pg_database, buffered=False)
    engine = make_engine(f"sqlite:///{tmp_path / 'metadata.db'}")
    async with running(tenant):  # the cloud worker provisions the tenant
        set_paused(engine, tenant_id=tenant.name, scope="agent", name=tenant.agent, paused=True)
        handle = await tenant.start("LocalToLocalSync", body(tenant))  # as a schedule or the stock CLI would
        state = await until(lambda: is_paused(handle), what="the run to wait in its gate")
        assert state["controls"]["paused_by"] == ["agent:edge-1"]
        await asyncio.sleep(WINDOW_S)
        assert dst_stats(tenant) == (0, 0)
        set_paused(engine, tenant_id=tenant.name, scope="agent", name=tenant.agent, paused=False)
        await handle.signal("resume", ControlSignal(scope="agent", name=tenant.agent))
        result: SyncResult = await handle.result()
        await record_history(handle, "LocalToLocalSync", "flag_resume")
    engine.dispose()
    assert result.tables[0].rows_written == ROWS and dst_stats(tenant) == (ROWS, 0)


async def test_a_pause_of_another_connection_does_not_hold_the_run(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str]
) -> None:
    tenant = pg_tenant(env, tmp_path, pg_database, buffered=False)
    async with running(tenant):
        handle = await tenant.start("LocalToLocalSync", body(tenant))
        await handle.signal("pause", ControlSignal(scope="connection", name="elsewhere"))
        result: SyncResult = await handle.result()
    assert result.tables[0].rows_written == ROWS


@pytest.mark.parametrize("end", ["cancel", "terminate"])
async def test_a_paused_run_can_be_cancelled_or_terminated(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str], end: str
) -> None:
    tenant = pg_tenant(env, tmp_path, pg_database, buffered=False)
    async with running(tenant):
        handle = await tenant.start("LocalToLocalSync", body(tenant))
        state = await pause_mid_step(handle, tenant, ControlSignal())
        assert state["controls"]["paused_by"] == ["execution"]
        if end == "cancel":
            await handle.cancel()
        else:
            await handle.terminate(reason="test: terminated while paused")
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        status = (await handle.describe()).status
        scenario = "cancelled_while_paused" if end == "cancel" else "terminated_while_paused"
        await record_history(handle, "LocalToLocalSync", scenario)
    assert status == (
        WorkflowExecutionStatus.CANCELED if end == "cancel" else WorkflowExecutionStatus.TERMINATED
    )
    assert dst_stats(tenant)[1] == 0


async def test_events_during_a_pass_coalesce_into_one_more_pass(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str]
) -> None:
    tenant = pg_tenant(env, tmp_path, pg_database, buffered=False)
    async with running(tenant):
        handle = await tenant.start("LocalToLocalSync", body(tenant))
        await pause_mid_step(handle, tenant, ControlSignal())
        # Rows behind the pass's keyset position: only another pass can see them.
        with psycopg.connect(url_of(tenant, "erp"), autocommit=True) as db:
            db.execute("INSERT INTO items SELECT -g, 'late' FROM generate_series(1, 5) g")
        for n in range(3):
            await handle.signal("event", WorkflowEvent(source="webhook:h1", delivery_id=f"d{n}"))
        await handle.signal("resume", ControlSignal())
        result: SyncResult = await handle.result()
        first = env.client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
        assert (await first.describe()).status == WorkflowExecutionStatus.CONTINUED_AS_NEW
        final = await progress(env.client.get_workflow_handle(handle.id))
        await record_history(first, "LocalToLocalSync", "event_rerun")
    assert final["controls"]["events"] == 3 and final["controls"]["passes"] == 1
    assert final["controls"]["last_delivery_id"] == "d2" and final["controls"]["rerun"] is False
    assert result.tables[0].verified and dst_stats(tenant) == (ROWS + 5, 0) and lost(tenant) == 0


async def signal_with_start(client: Client, tenant: Tenant, wid: str) -> WorkflowHandle:
    return await client.start_workflow(
        "LocalToLocalSync",
        body(tenant),
        id=wid,
        task_queue=cloud_queue(tenant.name),
        result_type=SyncResult,
        start_signal="event",
        start_signal_args=[WorkflowEvent(source="webhook:h1", delivery_id="first")],
    )


async def test_an_event_that_starts_the_run_runs_one_normal_pass(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str]
) -> None:
    tenant = pg_tenant(env, tmp_path, pg_database, buffered=False)
    async with running(tenant):
        handle = await signal_with_start(env.client, tenant, f"hook-{tenant.name}")
        result: SyncResult = await handle.result()
        only = env.client.get_workflow_handle(handle.id, run_id=handle.result_run_id)
        assert (await only.describe()).status == WorkflowExecutionStatus.COMPLETED
        state = await progress(only)
        await record_history(only, "LocalToLocalSync", "signal_with_start")
    assert handle.result_run_id == (await only.describe()).run_id
    assert state["controls"]["events"] == 1 and state["controls"]["passes"] == 0
    assert state["controls"]["last_delivery_id"] == "first"
    assert result.tables[0].rows_written == ROWS


async def step_scheduled(handle: WorkflowHandle) -> bool:
    desc = await handle.describe()
    scheduled = PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED
    return any(p.state == scheduled for p in desc.raw_description.pending_activities)


async def test_a_pause_while_the_agent_is_offline_holds_the_run_without_failing_it(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str]
) -> None:
    tenant = pg_tenant(env, tmp_path, pg_database, buffered=False)
    async with running(tenant, agent=False):
        handle = await tenant.start("LocalToLocalSync", body(tenant))
        await until(lambda: step_scheduled(handle), what="the step to wait for the agent")
        await handle.signal("pause", ControlSignal(scope="agent", name=tenant.agent))
        state = await until(lambda: is_paused(handle), what="the run to pause")
        assert state["controls"]["paused_by"] == ["agent:edge-1"] and state["current"]["rows_read"] == 0
        await handle.signal("resume", ControlSignal(scope="agent", name=tenant.agent))
        async with running(tenant, cloud=False):
            result: SyncResult = await handle.result()
        await record_history(handle, "LocalToLocalSync", "pause_before_start")
    assert result.tables[0].rows_written == ROWS and dst_stats(tenant) == (ROWS, 0)
