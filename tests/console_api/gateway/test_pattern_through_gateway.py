"""Pattern 3.1.1 with the agent's worker reaching Temporal only through the gateway tunnel."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from infra.demo.load import create_and_load
from tests.console_api.gateway.conftest import GatewayRig, gateway_agent
from tests.workflows.harness import Tenant, running
from tests.workflows.test_sync_patterns import NAMES, all_tables, assert_verified
from workflows.sync_types import SyncResult


async def test_local_to_local_through_gateway(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str], rig: GatewayRig
) -> None:
    src_url, dst_url = pg_database("erp"), pg_database("dw")
    counts = create_and_load(src_url, scale=0.02)
    tenant = Tenant(client=env.client, home=tmp_path)
    tenant.agent_connections = [
        {"name": "erp", "kind": "postgresql", "url": src_url},
        {"name": "dw", "kind": "postgresql", "url": dst_url, "write": True},
    ]
    signer = rig.enroll(tenant.name, tenant.agent)
    body = {
        "agent": tenant.agent,
        "source_connection": "erp",
        "destination_connection": "dw",
        "tables": all_tables(),
        "limits": {"batch_rows": 500},
    }
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with (
            running(tenant, agent=False),
            gateway_agent(tenant, signer, rig.gateway.url, executor) as (
                client,
                _,
            ),
        ):
            assert client.service_client.config.target_host.startswith("127.0.0.1:")
            result: SyncResult = await (await tenant.start("LocalToLocalSync", body)).result()
    assert_verified(result, len(NAMES))
    assert {t.source_table: t.rows_read for t in result.tables} == counts
    actions = rig.actions(tenant.name)
    assert "gateway.session_opened" in actions and "gateway.rpc_denied" not in actions
