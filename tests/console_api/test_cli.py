"""The vsc CLI as a user runs it: a separate process talking to a real Temporal server."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from infra.demo.load import create_and_load
from tests.console_api.served import run_vsc
from tests.workflows.harness import Tenant, running


async def vsc(*args: str, home: Path | None = None) -> tuple[int, str]:
    # VSC_HOME: where `vsc run` finds the payload keyring (and master key) of the stack it starts on
    code, out, err = await run_vsc(*args, home=home)
    return code, out + err


@pytest.mark.parametrize("pattern", ["3.1.1", "3.3.2"])
async def test_run_pattern_follows_to_a_verified_result(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str], pattern: str
) -> None:
    src = f"sqlite:///{tmp_path / 'erp.db'}"
    create_and_load(src, scale=0.005)
    # payload encryption on, as in the real stack: `vsc run` seals the input with the tenant's key
    tenant = Tenant(client=env.client, home=tmp_path, payload_encryption=True)
    erp = {"name": "erp", "kind": "sqlite", "url": src}
    tenant.agent_connections = [{"name": "dw", "kind": "postgresql", "url": pg_database("dw"), "write": True}]
    if pattern == "3.3.2":  # the same ERP, read from the cloud side and loaded on the agent
        tenant.cloud_connections = [{**erp, "location": "cloud"}]
    else:
        tenant.agent_connections.append(erp)
    params = tmp_path / "params.json"
    params.write_text(
        json.dumps(
            {
                "agent": tenant.agent,
                "source_connection": "erp",
                "destination_connection": "dw",
                "tables": [{"source_table": "vans"}, {"source_table": "routes"}],
            }
        )
    )
    address = env.client.service_client.config.target_host
    async with running(tenant):
        code, out = await vsc(
            "run",
            pattern,
            "--params",
            str(params),
            "--tenant",
            tenant.name,
            "--address",
            address,
            home=tmp_path,
        )
    assert code == 0, out
    assert "vans -> vans" in out and "routes -> routes" in out
    assert out.count("yes") == 2 and f"/namespaces/default/workflows/{pattern}-" in out
    workflow_id = re.search(rf"/workflows/({re.escape(pattern)}-[0-9a-f]+)/", out)
    assert workflow_id, out
    history = await env.client.get_workflow_handle(workflow_id.group(1)).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes.input.payloads[0]
    assert started.metadata["encoding"] == b"binary/encrypted"


async def test_run_refuses_unknown_pattern_and_bad_json(tmp_path: Path) -> None:
    params = tmp_path / "p.json"
    params.write_text("{broken")
    code, out = await vsc("run", "9.9.9", "--params", str(params))
    assert code == 2 and "unknown pattern '9.9.9'" in out
    code, out = await vsc("run", "3.1.1", "--params", str(params))
    assert code == 2 and "not valid JSON" in out
