"""SIGKILL the agent worker process mid-load, restart it: 0 rows lost, 0 duplicated (TESTPLAN R1, PR tier)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.wiring import build_buffer
from infra.demo.load import create_and_load
from tests.workflows.harness import Tenant, running
from workflows.sync_types import SyncResult

ROOT = Path(__file__).resolve().parents[2]


def start_agent(tenant: Tenant, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "mini_connector.worker"],
        cwd=ROOT,
        env={**os.environ, **tenant.agent_env(), "PYTHONPATH": str(ROOT)},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


async def rows_heartbeated(
    handle: WorkflowHandle, field: str = "rows_written", activity: str = "copy_table"
) -> int:
    """A row count from the pending ``activity``'s last heartbeat (0 if none yet).

    ``copy_table`` heartbeats ``StepProgress``; ``extract_to_buffer`` nests it under ``progress``.
    """
    desc = await handle.describe()
    for pending in desc.raw_description.pending_activities:
        if (
            pending.activity_type.name == activity
            and pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
            and pending.heartbeat_details.payloads
        ):
            details = json.loads(pending.heartbeat_details.payloads[0].data)
            return int(details.get("progress", details).get(field, 0))
    return 0


def pk_stats(url: str) -> tuple[int, int, int]:
    """(rows, distinct keys, duplicates) of order_lines."""
    with psycopg.connect(url) as conn:
        rows, keys = conn.execute(
            "SELECT count(*), count(DISTINCT (order_id, line_no)) FROM order_lines"
        ).fetchone()  # type: ignore[misc]
    return rows, keys, rows - keys


@pytest.mark.parametrize("pattern", ["LocalToLocalSync"])
async def test_sigkill_agent_mid_load_loses_and_duplicates_nothing(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str], pattern: str
) -> None:
    src_url, dst_url = pg_database("erp"), pg_database("dw")
    create_and_load(src_url, scale=1.0)
    tenant = Tenant(client=env.client, home=tmp_path)
    tenant.agent_connections = [
        {"name": "erp", "kind": "postgresql", "url": src_url},
        {"name": "dw", "kind": "postgresql", "url": dst_url, "write": True},
    ]
    body = {
        "agent": tenant.agent,
        "source_connection": "erp",
        "destination_connection": "dw",
        "tables": [{"source_table": "order_lines"}],
        "limits": {"batch_rows": 200, "heartbeat_seconds": 1},
    }
    log = tmp_path / "agent.log"
    async with running(tenant, agent=False):
        agent = start_agent(tenant, log)
        try:
            handle = await tenant.start(pattern, body)
            # Generous: on a loaded 2-core machine the agent process alone can take many seconds to import.
            deadline = asyncio.get_running_loop().time() + 150
            while await rows_heartbeated(handle) < 3000:
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"no progress heartbeated; agent log:\n{log.read_text()[-3000:]}")
                await asyncio.sleep(0.05)
            agent.send_signal(signal.SIGKILL)
            agent.wait()
            # The load stopped part-way: the destination holds some rows but not all.
            partial, _, _ = pk_stats(dst_url)
            agent = start_agent(tenant, log)
            result: SyncResult = await asyncio.wait_for(handle.result(), timeout=180)
        finally:
            agent.kill()
            agent.wait()
    table = result.tables[0]
    rows, keys, dups = pk_stats(dst_url)
    assert 0 < partial < table.source.rows  # type: ignore[union-attr]
    assert dups == 0
    assert rows == keys == table.source.rows  # type: ignore[union-attr]
    assert table.source == table.destination  # lost = extra = 0: same count, same content hash
    # The restarted attempt resumed from the last heartbeat: it re-read at most one batch.
    assert table.rows_read - table.source.rows <= 200  # type: ignore[union-attr]


async def test_r6_agent_offline_mid_extract_leaves_no_orphaned_buffer_objects(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str]
) -> None:
    """TESTPLAN R6 for Pattern 3.3.1: the agent goes silent for 2x the heartbeat timeout mid-extract."""
    src_url, dst_url = pg_database("erp"), pg_database("cloud")
    create_and_load(src_url, scale=1.0)
    tenant = Tenant(client=env.client, home=tmp_path)
    tenant.agent_connections = [{"name": "erp", "kind": "postgresql", "url": src_url}]
    tenant.cloud_connections = [
        {"name": "cloud", "kind": "postgresql", "url": dst_url, "location": "cloud", "write": True}
    ]
    heartbeat_s = 2
    body = {
        "agent": tenant.agent,
        "source_connection": "erp",
        "destination_connection": "cloud",
        "tables": [{"source_table": "order_lines"}],
        "limits": {"batch_rows": 200, "heartbeat_seconds": heartbeat_s},
    }
    log = tmp_path / "agent.log"
    async with running(tenant, agent=False):
        agent = start_agent(tenant, log)
        try:
            handle = await tenant.start("LocalToCloudSync", body)
            deadline = asyncio.get_running_loop().time() + 150
            while await rows_heartbeated(handle, "rows_read", "extract_to_buffer") < 1:
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"no progress heartbeated; agent log:\n{log.read_text()[-3000:]}")
                await asyncio.sleep(0.05)
            agent.send_signal(signal.SIGSTOP)  # offline: no heartbeats, no polls
            await asyncio.sleep(2 * heartbeat_s)  # the fault's duration, not an assertion
            agent.send_signal(signal.SIGCONT)
            result: SyncResult = await asyncio.wait_for(handle.result(), timeout=180)
            history = await handle.fetch_history()
        finally:
            agent.kill()
            agent.wait()
    table = result.tables[0]
    rows, keys, dups = pk_stats(dst_url)
    assert dups == 0 and rows == keys == table.source.rows  # type: ignore[union-attr]
    assert table.source == table.destination
    attempts = [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]
    assert max(attempts) > 1  # the silent attempt timed out and was retried
    # No orphaned buffer objects once the sweeper has run (TESTPLAN R6 "sweeper count"): the run
    # purged its prefix; what the timed-out attempt wrote after that (it runs on until its next
    # heartbeat is refused), or left half-written when the agent was killed, is the sweeper's.
    store = build_buffer(tenant.buffer_config())
    orphans = store.sweep(now=datetime.now(UTC) + timedelta(days=30))
    print(f"R6: the sweeper removed {orphans} object(s) written by the timed-out attempt")
    assert not [p for p in (tmp_path / "buffer").rglob("*") if p.is_file()]
