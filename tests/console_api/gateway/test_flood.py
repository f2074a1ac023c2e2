"""A flood of abandoned handshakes and bad signatures while a real agent runs 3.1.1 through the gateway."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import websockets
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from websockets.exceptions import ConnectionClosed, InvalidStatus

from activities.metadata import make_engine
from console_api.gateway import Gateway
from infra.demo.load import create_and_load
from mini_connector.tunnel import CONNECT_PATH, InMemoryEd25519Signer, auth_message
from mini_connector.tunnel.protocol import Challenge, Hello
from tests.console_api.gateway.conftest import GatewayRig, gateway_agent, gateway_settings, new_tenant
from tests.workflows.harness import Tenant, running
from tests.workflows.test_sync_patterns import NAMES, all_tables, assert_verified
from workflows.sync_types import SyncResult

_LISTEN, _TIME_WAIT = "0A", "06"


def gateway_sockets(port: int) -> int:
    """Open server-side TCP sockets of the gateway's port (not listening, not TIME_WAIT: no fd)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port, state = int(fields[1].rsplit(":", 1)[1], 16), fields[3]
            if local_port == port and state not in (_LISTEN, _TIME_WAIT):
                count += 1
    return count


async def until(condition: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():  # noqa: ASYNC110 - polls state owned by the gateway
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), 60)


async def flood_gateway(env: WorkflowEnvironment, tmp_path: Path, **settings: float) -> Gateway:
    engine = make_engine(f"sqlite:///{tmp_path / 'metadata.db'}")
    return Gateway(gateway_settings(env, tmp_path, gateway_id="gw-flood", **settings), engine=engine)


@pytest.fixture
async def small_rig(env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[GatewayRig]:
    """Short handshake timeout and a cap of two handshakes, so both limits show in seconds."""
    async with await flood_gateway(env, tmp_path, handshake_timeout=3.0, max_handshakes=2) as gateway:
        yield GatewayRig(gateway=gateway, engine=gateway.engine, namespace=env.client.namespace)
    gateway.engine.dispose()


async def tcp_abandon(port: int) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.close()
    await writer.wait_closed()


async def http_abandon(port: int) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /agent/v1/connect HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: webso")
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def challenge_abandon(url: str) -> None:
    async with websockets.connect(url + CONNECT_PATH, compression=None) as ws:
        Challenge.model_validate_json(await ws.recv())


async def bad_signature(url: str, tenant: str) -> str:
    async with websockets.connect(url + CONNECT_PATH, compression=None) as ws:
        challenge = Challenge.model_validate_json(await ws.recv())
        ts = int(time.time())
        msg = auth_message(
            gateway=challenge.gateway, nonce=challenge.nonce, tenant=tenant, agent_id="edge-1", ts=ts
        )
        sig = base64.b64encode(InMemoryEd25519Signer().sign(msg)).decode()
        await ws.send(Hello(tenant=tenant, agent_id="edge-1", ts=ts, signature=sig).model_dump_json())
        reply = json.loads(await ws.recv())
        return str(reply["code"])


async def flood(rig: GatewayRig, tenant: str) -> list[str]:
    """100 each of: TCP dropped, HTTP upgrade cut short, challenge unanswered; 100 bad signatures."""
    gate = asyncio.Semaphore(40)
    url, port = rig.gateway.url, rig.gateway.port

    async def limited(attempt):  # type: ignore[no-untyped-def]
        async with gate:
            return await attempt

    attempts = [
        *(tcp_abandon(port) for _ in range(100)),
        *(http_abandon(port) for _ in range(100)),
        *(challenge_abandon(url) for _ in range(100)),
        *(bad_signature(url, tenant) for _ in range(100)),
    ]
    results = await asyncio.gather(*(limited(a) for a in attempts))
    return [r for r in results if r is not None]


async def test_flood_while_an_agent_runs_311(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str]
) -> None:
    src_url, dst_url = pg_database("erp"), pg_database("dw")
    counts = create_and_load(src_url, scale=0.02)
    tenant = Tenant(client=env.client, home=tmp_path)
    tenant.agent_connections = [
        {"name": "erp", "kind": "postgresql", "url": src_url},
        {"name": "dw", "kind": "postgresql", "url": dst_url, "write": True},
    ]
    body = {
        "agent": tenant.agent,
        "source_connection": "erp",
        "destination_connection": "dw",
        "tables": all_tables(),
        "limits": {"batch_rows": 500},
    }
    attacker = new_tenant()
    async with await flood_gateway(env, tmp_path, handshake_timeout=5.0) as gateway:
        rig = GatewayRig(gateway=gateway, engine=gateway.engine, namespace=env.client.namespace)
        signer = rig.enroll(tenant.name, tenant.agent)
        rig.enroll(attacker)
        with ThreadPoolExecutor(max_workers=4) as executor:
            async with (
                running(tenant, agent=False),
                gateway_agent(tenant, signer, gateway.url, executor) as (client, _),
            ):
                baseline = gateway_sockets(gateway.port)
                handle = await tenant.start("LocalToLocalSync", body)
                codes = await flood(rig, attacker)
                result: SyncResult = await handle.result()
                await client.workflow_service.get_system_info(GetSystemInfoRequest())
                await until(lambda: gateway_sockets(gateway.port) == baseline)
        gateway.engine.dispose()
    assert_verified(result, len(NAMES))
    assert {t.source_table: t.rows_read for t in result.tables} == counts
    assert codes == ["bad_signature"] * 100
    refused = [e.details["code"] for e in rig.audit(attacker) if e.action == "gateway.auth_refused"]
    assert refused == ["bad_signature"] * 100
    assert rig.actions(tenant.name).count("gateway.session_opened") == 1  # the agent never lost its session


async def test_silent_handshakes_time_out_and_the_cap_answers_503(small_rig: GatewayRig) -> None:
    rig = small_rig
    url = rig.gateway.url + CONNECT_PATH
    async with (
        websockets.connect(url, compression=None) as first,
        websockets.connect(url, compression=None) as second,
    ):
        for ws in (first, second):
            Challenge.model_validate_json(await ws.recv())
        with pytest.raises(InvalidStatus) as busy:
            async with websockets.connect(url, compression=None):
                pass
        assert busy.value.response.status_code == 503
        for ws in (first, second):  # neither says hello: the gateway refuses both at its timeout
            assert json.loads(await ws.recv())["code"] == "timeout"
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 4401
    platform = [e.details["code"] for e in rig.audit(rig.gateway.audit.platform_tenant)]
    assert sorted(platform) == ["busy", "timeout", "timeout"]
    tenant = new_tenant()
    async with rig.tunnel(tenant, rig.enroll(tenant)) as tunnel:  # and it serves agents again
        await tunnel.wait_connected()
        client = await Client.connect(tunnel.address)
        await client.workflow_service.get_system_info(GetSystemInfoRequest())
