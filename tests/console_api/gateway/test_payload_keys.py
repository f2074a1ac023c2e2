"""The agent's payload keys come only through its gateway session: its own tenant's, refusals audited."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.errors import GatewayRefusedError, KeyUnavailableError
from activities.metadata import make_engine
from activities.payload_codec import KEY_ID_KEY, TENANT_KEY
from activities.settings import BufferConfig
from activities.wiring import build_payload_keyring
from console_api.gateway import Gateway
from mini_connector.gateway_buffer import GatewayChannel, GatewayKeyring
from mini_connector.worker import build_worker, connect
from tests.console_api.api.test_executions import make_erp
from tests.console_api.gateway.conftest import NOWHERE, GatewayRig, gateway_settings, new_tenant
from tests.workflows.harness import Tenant, running
from workflows.sync_types import SyncResult


def cloud_buffer(root: Path) -> BufferConfig:
    return BufferConfig(
        directory=root / "buffer", keyring_dir=root / "keys", master_keyfile=root / "master.key"
    )


@pytest.fixture
async def prig(env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[GatewayRig]:
    """A gateway handing out payload keys from the cloud's payload keyring under ``tmp_path``."""
    engine = make_engine(f"sqlite:///{tmp_path / 'metadata.db'}")
    settings = gateway_settings(
        env, tmp_path, buffer=cloud_buffer(tmp_path), payload_keyring_dir=tmp_path / "payload-keys"
    )
    async with Gateway(settings, engine=engine) as gateway:
        yield GatewayRig(gateway=gateway, engine=engine, namespace=env.client.namespace)
    engine.dispose()


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def test_agent_encrypts_with_payload_keys_from_its_gateway_session(
    env: WorkflowEnvironment, tmp_path: Path, prig: GatewayRig
) -> None:
    tenant = Tenant(client=env.client, home=tmp_path, payload_encryption=True)
    make_erp(tmp_path / "erp.db")
    tenant.agent_connections = [
        {"name": "erp", "kind": "sqlite", "url": f"sqlite:///{tmp_path / 'erp.db'}"},
        {"name": "dw", "kind": "sqlite", "url": f"sqlite:///{tmp_path / 'dw.db'}", "write": True},
    ]
    tenant.write_registries()
    agent_side = tmp_path / "agent"
    settings = tenant.agent_settings().model_copy(
        update={
            "temporal": NOWHERE,
            "gateway_url": prig.gateway.url,
            "buffer": cloud_buffer(agent_side),
            "payload_keyring_dir": agent_side / "payload-keys",
        }
    )
    assert settings.payload_encryption
    signer = prig.enroll(tenant.name, tenant.agent)
    body = {
        "agent": tenant.agent,
        "source_connection": "erp",
        "destination_connection": "dw",
        "tables": [{"source_table": "orders", "destination_table": "copied"}],
    }
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with running(tenant, agent=False), connect(settings, signer=signer) as client:
            async with build_worker(client, settings, executor):
                handle = await tenant.encrypting_client().start_workflow(
                    "LocalToLocalSync", body, id=f"pk-{tenant.name}", task_queue=f"vsc.{tenant.name}.cloud"
                )
                result = SyncResult.model_validate(await handle.result())
    assert result.tables[0].rows_written == 25
    with sqlite3.connect(tmp_path / "dw.db") as db:
        assert db.execute("SELECT count(*) FROM copied").fetchone() == (25,)
    # every activity result (the copy's came from the agent) is sealed under a key of the cloud's
    # payload keyring; the agent holds no key file, so it had its key only from the gateway
    history = await env.client.get_workflow_handle(handle.id).fetch_history()
    results = [
        e.activity_task_completed_event_attributes.result.payloads[0]
        for e in history.events
        if e.HasField("activity_task_completed_event_attributes")
    ]
    assert results
    known = {p.stem for p in files_under(tmp_path / "payload-keys" / tenant.name / "keys")}
    for payload in results:
        assert payload.metadata[TENANT_KEY] == tenant.name.encode()
        assert payload.metadata[KEY_ID_KEY].decode() in known
    assert files_under(agent_side) == []  # no key file, no master key on the agent
    assert "gateway.payload_key_denied" not in prig.actions(tenant.name)


async def test_payload_keys_of_another_tenant_are_refused_and_audited(
    prig: GatewayRig, tmp_path: Path
) -> None:
    own, other = new_tenant(), new_tenant()
    signer = prig.enroll(own)
    theirs = build_payload_keyring(cloud_buffer(tmp_path), keyring_dir=tmp_path / "payload-keys").current(
        other
    )
    async with prig.tunnel(own, signer) as tunnel:
        await tunnel.wait_connected()
        keyring = GatewayKeyring(GatewayChannel(tunnel, asyncio.get_running_loop()), purpose="payload")
        mine = await asyncio.to_thread(keyring.current, own)
        buffer_key = await asyncio.to_thread(
            GatewayKeyring(GatewayChannel(tunnel, asyncio.get_running_loop())).current, own
        )
        with pytest.raises(GatewayRefusedError) as refused:
            await asyncio.to_thread(keyring.current, other)
        assert refused.value.fields["code"] == "forbidden"
        with pytest.raises(KeyUnavailableError) as unknown:
            await asyncio.to_thread(keyring.get, own, theirs.key_id)
        assert unknown.value.fields["code"] == "unknown_key"
    assert mine.key != theirs.key and mine.key != buffer_key.key  # payload keys are not buffer keys
    assert (tmp_path / "payload-keys" / own / "keys" / f"{mine.key_id}.json").exists()
    denied = [e for e in prig.audit(own) if e.action == "gateway.payload_key_denied"]
    assert [(e.details["op"], e.outcome) for e in denied] == [
        ("payload_key.current", "denied"),
        ("payload_key.get", "denied"),
    ]
    assert denied[0].details["requested_tenant"] == other
    assert denied[1].details["requested_id"] == theirs.key_id


async def test_payload_keys_refused_by_a_gateway_without_them(rig: GatewayRig) -> None:
    tenant = new_tenant()
    signer = rig.enroll(tenant)
    async with rig.tunnel(tenant, signer) as tunnel:
        await tunnel.wait_connected()
        keyring = GatewayKeyring(GatewayChannel(tunnel, asyncio.get_running_loop()), purpose="payload")
        with pytest.raises(KeyUnavailableError, match="serves no payload keys"):
            await asyncio.to_thread(keyring.current, tenant)
    assert "gateway.payload_key_denied" in rig.actions(tenant)
