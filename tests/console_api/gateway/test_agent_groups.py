"""Agent groups (HA) and R6 through the real gateway, with `vsc-agent run` processes.

Every agent process reaches Temporal only through the gateway (its direct address is a closed
port). Loads are 3.1.1 order_lines with small batches and a 2 s heartbeat timeout.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.metadata import provision_tenant
from console_api.gateway import issue_enrollment_token
from console_api.gateway.agents import revoke_agent
from infra.demo.load import create_and_load
from tests.console_api.gateway.conftest import GatewayRig, new_tenant
from tests.mini_connector.test_cli_run import ROOT, agent_cli, agent_env
from tests.workflows.harness import Tenant, running
from tests.workflows.test_agent_kill import pk_stats, rows_heartbeated
from workflows.sync_types import SyncResult

HEARTBEAT_S = 2


async def enroll(rig: GatewayRig, home: Path, *, tenant: str, agent_id: str, group: str | None, urls) -> None:
    provision_tenant(rig.engine, tenant_id=tenant, name=tenant)
    token = issue_enrollment_token(rig.engine, tenant_id=tenant, agent_id=agent_id, group_id=group)
    code, out = await agent_cli(
        home, "enroll", "--gateway", rig.gateway.url, "--agent-id", agent_id, VSC_AGENT_ENROLL_TOKEN=token
    )
    assert code == 0, out
    for name, url, flags in (("erp", urls[0], ()), ("dw", urls[1], ("--write",))):
        code, out = await agent_cli(
            home, "credentials", "add", name, "--kind", "postgresql", "--url-env", "URL", *flags, URL=url
        )
        assert code == 0, out


def start_agent(home: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "mini_connector.cli", "run", "--verbose"],
        cwd=ROOT,
        env=agent_env(home),
        stdout=(home / "run.log").open("ab"),
        stderr=subprocess.STDOUT,
    )


async def until(predicate: Callable[[], object], what: str, *, tries: int = 600) -> None:
    for _ in range(tries):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def running_worker(handle: WorkflowHandle) -> str:
    """Identity (``pid@host``) of the worker running the load step."""
    for pending in (await handle.describe()).raw_description.pending_activities:
        if pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED:
            return pending.last_worker_identity
    return ""


async def wait_progress(handle: WorkflowHandle, rows: int, logs: list[Path]) -> None:
    # By deadline, not by poll count: agent subprocesses start slowly when the 2 cores are loaded.
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if await rows_heartbeated(handle) >= rows:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("no progress; logs:\n" + "\n".join(p.read_text()[-2000:] for p in logs))


def body(agent: str) -> dict:
    return {
        "agent": agent,
        "source_connection": "erp",
        "destination_connection": "dw",
        "tables": [{"source_table": "order_lines"}],
        "limits": {"batch_rows": 200, "heartbeat_seconds": HEARTBEAT_S},
    }


def assert_exact(result: SyncResult, dst_url: str) -> None:
    table = result.tables[0]
    rows, keys, dups = pk_stats(dst_url)
    assert dups == 0
    assert rows == keys == table.source.rows  # type: ignore[union-attr]
    assert table.source == table.destination  # same count and content hash: 0 lost, 0 extra


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
        proc.wait()


async def test_two_agents_in_a_group_one_killed_mid_load_the_other_completes(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str], rig: GatewayRig
) -> None:
    urls = (pg_database("erp"), pg_database("dw"))
    create_and_load(urls[0], scale=1.0)
    tenant = Tenant(client=env.client, home=tmp_path)
    homes = {a: tmp_path / a for a in ("edge-a", "edge-b")}
    for agent_id, home in homes.items():
        await enroll(rig, home, tenant=tenant.name, agent_id=agent_id, group="vans", urls=urls)
    procs = {agent_id: start_agent(home) for agent_id, home in homes.items()}
    try:
        for agent_id in homes:
            await until(lambda a=agent_id: rig.gateway.sessions_of(tenant.name, a), f"{agent_id} online")
        assert {s.scope.queues for a in homes for s in rig.gateway.sessions_of(tenant.name, a)} == {
            frozenset({f"vsc.{tenant.name}.agent.vans"})
        }
        async with running(tenant, agent=False):
            handle = await tenant.start("LocalToLocalSync", body("vans"))
            await wait_progress(handle, 3000, [h / "run.log" for h in homes.values()])
            worker = await running_worker(handle)
            victim = next(a for a, p in procs.items() if worker.startswith(f"{p.pid}@"))
            procs[victim].send_signal(signal.SIGKILL)
            procs[victim].wait()
            partial, _, _ = pk_stats(urls[1])
            result: SyncResult = await asyncio.wait_for(handle.result(), timeout=180)
        survivor = next(a for a in homes if a != victim)
        assert procs[survivor].poll() is None  # the other member finished the run
        history = await handle.fetch_history()
    finally:
        stop(list(procs.values()))
    assert 0 < partial < result.tables[0].source.rows  # type: ignore[union-attr]
    assert_exact(result, urls[1])
    started = [
        e.activity_task_started_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]
    # The load step's last attempt ran on the survivor after the victim's attempt timed out.
    retried = [s for s in started if s.attempt > 1]
    assert retried and all(s.identity.startswith(f"{procs[survivor].pid}@") for s in retried)


async def test_r6_agent_offline_for_twice_the_heartbeat_timeout_retries_without_duplicates(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str], rig: GatewayRig
) -> None:
    urls = (pg_database("erp"), pg_database("dw"))
    create_and_load(urls[0], scale=1.0)
    tenant = Tenant(client=env.client, home=tmp_path)
    home = tmp_path / "agent"
    await enroll(rig, home, tenant=tenant.name, agent_id=tenant.agent, group=None, urls=urls)
    agent = start_agent(home)
    try:
        await until(lambda: rig.gateway.sessions_of(tenant.name, tenant.agent), "agent online")
        async with running(tenant, agent=False):
            handle = await tenant.start("LocalToLocalSync", body(tenant.agent))
            await wait_progress(handle, 3000, [home / "run.log"])
            agent.send_signal(signal.SIGSTOP)  # offline: no heartbeats, no polls, socket silent
            await asyncio.sleep(2 * HEARTBEAT_S)  # the fault's duration, not an assertion
            agent.send_signal(signal.SIGCONT)
            result: SyncResult = await asyncio.wait_for(handle.result(), timeout=180)
        history = await handle.fetch_history()
    finally:
        stop([agent])
    assert_exact(result, urls[1])
    attempts = [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]
    assert max(attempts) > 1  # the attempt that went silent timed out and was retried
    # 3.1.1 writes no buffer object (DB to DB on the agent); the gateway holds no buffer store here.
    assert rig.gateway.settings.buffer is None


async def test_s11_revocation_closes_the_live_session_within_30s(tmp_path: Path, rig: GatewayRig) -> None:
    tenant = new_tenant()
    signer = rig.enroll(tenant, "edge-r")
    rig.gateway.settings.presence_interval = 5.0  # the default: revoked elsewhere, seen at the next beat
    async with rig.tunnel(tenant, signer, agent_id="edge-r") as client:
        await client.wait_connected()
        (session,) = rig.gateway.sessions_of(tenant, "edge-r")
        began = time.monotonic()
        # Revoked through the metadata store (as `vsc agents revoke` or the API do), not this gateway.
        assert revoke_agent(rig.engine, tenant_id=tenant, agent_id="edge-r")
        await asyncio.wait_for(session.ws.wait_closed(), 30)
        elapsed = time.monotonic() - began
    print(f"S11 revocation: session closed {elapsed:.2f} s after the revocation")
    assert session.ws.close_code == 4403
    assert "gateway.session_revoked" in rig.actions(tenant)
