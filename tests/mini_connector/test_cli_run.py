"""``vsc-agent run`` as a separate process: vault identity and credentials, real gateway and Temporal."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from activities.metadata import provision_tenant
from console_api.gateway import issue_enrollment_token
from infra.demo.load import create_and_load
from tests.console_api.gateway.conftest import NOWHERE, GatewayRig, new_tenant
from tests.mini_connector.conftest import PROXY_VARS, all_output, run
from tests.workflows.harness import Tenant, running
from tests.workflows.test_sync_patterns import NAMES, all_tables, assert_verified
from workflows.sync_types import SyncResult

ROOT = Path(__file__).resolve().parents[2]


def agent_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VSC_") and k not in PROXY_VARS}
    return {
        **env,
        "PYTHONPATH": str(ROOT),
        "VSC_AGENT_HOME": str(home),
        "VSC_AGENT_MACHINE_ID": "machine-run",
        # the agent must never dial Temporal itself: a direct dial would hit a closed port
        "VSC_AGENT_TEMPORAL__ADDRESS": NOWHERE.address,
        # the harness's cloud worker is plain and the rig's gateway serves no payload keys
        "VSC_AGENT_PAYLOAD_ENCRYPTION": "false",
        **extra,
    }


async def agent_cli(home: Path, *args: str, **extra: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mini_connector.cli",
        *args,
        cwd=ROOT,
        env=agent_env(home, **extra),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


async def enroll_agent(rig: GatewayRig, home: Path, tenant: str, agent_id: str) -> None:
    provision_tenant(rig.engine, tenant_id=tenant, name=tenant)
    token = issue_enrollment_token(rig.engine, tenant_id=tenant, agent_id=agent_id)
    code, out = await agent_cli(
        home, "enroll", "--gateway", rig.gateway.url, "--agent-id", agent_id, VSC_AGENT_ENROLL_TOKEN=token
    )
    assert code == 0, out
    assert token not in out


async def start_run(home: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mini_connector.cli",
        "run",
        "--verbose",
        cwd=ROOT,
        env=agent_env(home),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def test_run_serves_3_1_1_through_the_gateway_with_vault_credentials_until_revoked(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str], rig: GatewayRig
) -> None:
    src_url, dst_url = pg_database("erp"), pg_database("dw")
    counts = create_and_load(src_url, scale=0.01)
    tenant = Tenant(client=env.client, home=tmp_path)
    home = tmp_path / "agent"
    await enroll_agent(rig, home, tenant.name, tenant.agent)
    for name, url, flags in (("erp", src_url, ()), ("dw", dst_url, ("--write",))):
        code, out = await agent_cli(
            home, "credentials", "add", name, "--kind", "postgresql", "--url-env", "URL", *flags, URL=url
        )
        assert code == 0, out
    assert not (home / "agent-connections.json").exists()

    agent = await start_run(home)
    try:
        body = {
            "agent": tenant.agent,
            "source_connection": "erp",
            "destination_connection": "dw",
            "tables": all_tables(),
            "limits": {"batch_rows": 500},
        }
        async with running(tenant, agent=False):  # the cloud worker only; the agent is the subprocess
            result: SyncResult = await (await tenant.start("LocalToLocalSync", body)).result()
        assert_verified(result, len(NAMES))
        assert {t.source_table: t.rows_read for t in result.tables} == counts
        assert "gateway.session_opened" in rig.actions(tenant.name)

        await rig.gateway.revoke(tenant_id=tenant.name, agent_id=tenant.agent)
        out_bytes, _ = await asyncio.wait_for(agent.communicate(), 60)
    finally:
        if agent.returncode is None:
            agent.kill()
            await agent.wait()
    out = out_bytes.decode()
    assert agent.returncode == 1, out
    assert "error: gateway refused agent 'edge-1'" in out and "revoked" in out, out
    assert "vsc-agent enroll --force" in out
    assert "gateway.auth_refused" in rig.actions(tenant.name)


async def test_run_of_a_revoked_agent_exits_with_the_refusal(tmp_path: Path, rig: GatewayRig) -> None:
    tenant = new_tenant()
    home = tmp_path / "agent"
    await enroll_agent(rig, home, tenant, "edge-9")
    await rig.gateway.revoke(tenant_id=tenant, agent_id="edge-9")
    agent = await start_run(home)
    out_bytes, _ = await asyncio.wait_for(agent.communicate(), 60)
    out = out_bytes.decode()
    assert agent.returncode == 1, out
    assert f"gateway refused agent 'edge-9' of tenant {tenant!r}: revoked" in out
    assert "issue a new enrollment token" in out


def test_run_without_a_vault_or_identity_says_what_to_do(agent_home: Path) -> None:
    result = run("run")
    assert result.exit_code == 1
    assert "no vault at" in all_output(result) and "vsc-agent init" in all_output(result)
    assert run("init").exit_code == 0
    result = run("run")
    assert result.exit_code == 1
    assert "holds no identity: enroll this agent first" in all_output(result)
