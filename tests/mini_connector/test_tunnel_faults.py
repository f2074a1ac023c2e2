"""TESTPLAN R5: the WebSocket to the gateway is cut (or left half-open) mid-load; nothing lost or doubled."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from temporalio.testing import WorkflowEnvironment

from infra.demo.load import create_and_load
from mini_connector.worker import build_worker, connect
from tests.console_api.gateway.conftest import GatewayRig, agent_settings
from tests.mini_connector.faultproxy import FaultProxy
from tests.workflows.harness import Tenant, running
from tests.workflows.test_agent_kill import pk_stats
from workflows.sync_types import SyncResult

BATCH = 200


def loaded(url: str) -> int:
    try:
        return pk_stats(url)[0]
    except psycopg.errors.UndefinedTable:
        return 0


@pytest.mark.parametrize("fault", ["drop-1", "drop-2", "drop-3", "half_open-1", "half_open-2"])
async def test_tunnel_fault_mid_load_loses_and_duplicates_nothing(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str], rig: GatewayRig, fault: str
) -> None:
    src_url, dst_url = pg_database("erp"), pg_database("dw")
    create_and_load(src_url, scale=0.15)
    tenant = Tenant(client=env.client, home=tmp_path)
    tenant.agent_connections = [
        {"name": "erp", "kind": "postgresql", "url": src_url},
        {"name": "dw", "kind": "postgresql", "url": dst_url, "write": True},
    ]
    tenant.write_registries()
    signer = rig.enroll(tenant.name, tenant.agent)
    body = {
        "agent": tenant.agent,
        "source_connection": "erp",
        "destination_connection": "dw",
        "tables": [{"source_table": "order_lines"}],
        "limits": {"batch_rows": BATCH, "heartbeat_seconds": 2},
    }
    async with FaultProxy(rig.gateway.port) as proxy:
        settings = agent_settings(tenant, f"ws://127.0.0.1:{proxy.port}").model_copy(
            update={"gateway_ping_interval": 0.5, "gateway_ping_timeout": 1.0, "reconnect_cap_seconds": 1.0}
        )
        with ThreadPoolExecutor(max_workers=4) as executor:
            async with running(tenant, agent=False), connect(settings, signer=signer) as client:
                async with build_worker(client, settings, executor):
                    handle = await tenant.start("LocalToLocalSync", body)
                    deadline = time.monotonic() + 60
                    while loaded(dst_url) < 1000:
                        assert time.monotonic() < deadline, "the agent never heartbeated progress"
                        await asyncio.sleep(0.05)
                    proxy.freeze() if fault.startswith("half_open") else proxy.drop()
                    result: SyncResult = await asyncio.wait_for(handle.result(), timeout=120)
    table = result.tables[0]
    rows, keys, dups = pk_stats(dst_url)
    assert proxy.accepted >= 2  # the agent really reconnected
    assert dups == 0
    assert rows == keys == table.source.rows  # type: ignore[union-attr]
    assert table.source == table.destination
