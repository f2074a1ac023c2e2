"""The agent's buffer and data keys through the gateway: 3.3.1 with nothing shared, refusals, bad requests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.errors import GatewayRefusedError, InvalidInputError
from activities.metadata import make_engine
from activities.settings import BufferConfig
from console_api.gateway import Gateway
from infra.demo.load import create_and_load
from mini_connector.gateway_buffer import GatewayBackend, GatewayChannel, GatewayKeyring
from mini_connector.tunnel import Kind, encode_frame
from mini_connector.tunnel.rpc import Request, decode_response, encode_envelope
from mini_connector.worker import build_worker, connect
from tests.console_api.gateway.conftest import NOWHERE, GatewayRig, gateway_settings, new_tenant, raw_session
from tests.workflows.harness import Tenant, running
from tests.workflows.test_sync_patterns import assert_verified
from workflows.sync_types import SyncResult

MAX_OBJECT = 4 << 20


def cloud_buffer(root: Path) -> BufferConfig:
    return BufferConfig(
        directory=root / "buffer", keyring_dir=root / "keys", master_keyfile=root / "master.key"
    )


@pytest.fixture
async def brig(env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[GatewayRig]:
    """A gateway that serves buffer requests from the cloud's buffer directory and keyring."""
    engine = make_engine(f"sqlite:///{tmp_path / 'metadata.db'}")
    settings = gateway_settings(
        env, tmp_path, buffer=cloud_buffer(tmp_path / "cloud"), max_object_bytes=MAX_OBJECT
    )
    async with Gateway(settings, engine=engine) as gateway:
        yield GatewayRig(gateway=gateway, engine=engine, namespace=env.client.namespace)
    engine.dispose()


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def test_local_to_cloud_with_agent_buffer_only_through_gateway(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str], brig: GatewayRig
) -> None:
    src_url, cloud_url = pg_database("erp"), pg_database("cloud")
    create_and_load(src_url, scale=0.02)
    tenant = Tenant(client=env.client, home=tmp_path, buffer=cloud_buffer(tmp_path / "cloud"))
    tenant.agent_connections = [{"name": "erp", "kind": "postgresql", "url": src_url}]
    tenant.cloud_connections = [
        {"name": "cloud", "kind": "postgresql", "url": cloud_url, "location": "cloud", "write": True}
    ]
    agent_side = tmp_path / "agent"
    settings = tenant.agent_settings().model_copy(
        update={"temporal": NOWHERE, "gateway_url": brig.gateway.url, "buffer": cloud_buffer(agent_side)}
    )
    signer = brig.enroll(tenant.name, tenant.agent)
    body = {
        "agent": tenant.agent,
        "source_connection": "erp",
        "destination_connection": "cloud",
        "tables": [
            {"source_table": "customers"},
            {
                "source_table": "order_lines",
                "incremental_column": "updated_at",
                "transform": {"derive": [{"name": "line_total", "expr": "round(quantity * unit_price, 2)"}]},
            },
        ],
        "limits": {"batch_rows": 400},
    }
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with running(tenant, agent=False), connect(settings, signer=signer) as client:
            async with build_worker(client, settings, executor):
                result: SyncResult = await (await tenant.start("LocalToCloudSync", body)).result()
    assert_verified(result, 2)
    with psycopg.connect(cloud_url) as conn:
        bad = conn.execute(
            "SELECT count(*) FROM order_lines WHERE line_total <> round(quantity * unit_price, 2)"
        )
        assert bad.fetchone() == (0,)
    # Nothing is shared behind the gateway: the agent's own buffer, keyring and master key stay unused;
    # the tenant's data key lives only in the cloud keyring that the gateway and the cloud worker share.
    assert files_under(agent_side) == []
    assert files_under(tmp_path / "cloud" / "keys" / tenant.name / "keys")
    assert files_under(tmp_path / "cloud" / "buffer") == []  # purged by the cloud worker
    actions = brig.actions(tenant.name)
    assert "gateway.buffer_denied" not in actions and "gateway.rpc_denied" not in actions


async def test_objects_and_keys_roundtrip_in_parts(brig: GatewayRig, tmp_path: Path) -> None:
    tenant = new_tenant()
    signer = brig.enroll(tenant)
    async with brig.tunnel(tenant, signer) as tunnel:
        await tunnel.wait_connected()
        channel = GatewayChannel(tunnel, asyncio.get_running_loop())
        backend, keyring = GatewayBackend(channel, tenant=tenant), GatewayKeyring(channel)
        blob = bytes(range(256)) * (10 * 1024 + 3)  # ~2.5 MiB: three frames each way
        key = f"{tenant}/run1/00000000-ab.vsc"

        def roundtrip() -> None:
            backend.put(key, blob)
            assert backend.get(key) == blob
            assert backend.get(key, length=10) == blob[:10]
            assert [(i.key, i.size) for i in backend.list(f"{tenant}/")] == [(key, len(blob))]
            current = keyring.current(tenant)
            assert keyring.get(tenant, current.key_id) == current
            backend.delete(key)
            assert list(backend.list(f"{tenant}/run1/")) == []

        await asyncio.to_thread(roundtrip)
    stored = json.loads(next((tmp_path / "cloud" / "keys" / tenant / "keys").iterdir()).read_text())
    assert stored["tenant"] == tenant  # the key came from the gateway's keyring, wrapped by its master key


FOREIGN = {
    "key_current": lambda own, other: Request(op="key.current", tenant=other),
    "key_get": lambda own, other: Request(op="key.get", tenant=other, key_id="0" * 32),
    "get_other_tenant": lambda own, other: Request(op="obj.get", tenant=own, key=f"{other}/r/x.vsc"),
    "put_other_tenant": lambda own, other: Request(op="obj.put", tenant=own, key=f"{other}/r/x.vsc", size=1),
    "list_everything": lambda own, other: Request(op="obj.list", tenant=own, key=""),
    "list_other": lambda own, other: Request(op="obj.list", tenant=own, key=f"{other}/"),
    "delete_escape": lambda own, other: Request(op="obj.delete", tenant=own, key=f"{own}/../{other}/r/x.vsc"),
    "claims_other": lambda own, other: Request(op="obj.get", tenant=other, key=f"{other}/r/x.vsc"),
}


@pytest.mark.parametrize("case", sorted(FOREIGN))
async def test_other_tenants_keys_and_objects_are_refused_and_audited(
    brig: GatewayRig, tmp_path: Path, case: str
) -> None:
    own, other = new_tenant(), new_tenant()
    signer = brig.enroll(own)
    brig.enroll(other, "edge-2")
    victim = tmp_path / "cloud" / "buffer" / other / "r" / "x.vsc"
    victim.parent.mkdir(parents=True)
    victim.write_bytes(b"sealed")
    async with brig.tunnel(own, signer) as tunnel:
        await tunnel.wait_connected()
        response, body = await tunnel.request(FOREIGN[case](own, other), b"x")
        assert (response.ok, response.error, response.code, body) == (
            False,
            "GatewayRefusedError",
            "forbidden",
            b"",
        )
        # The session stays usable for legitimate calls.
        ok, _ = await tunnel.request(Request(op="obj.list", tenant=own, key=f"{own}/"))
        assert ok.ok and tunnel.sessions_opened == 1
    assert victim.read_bytes() == b"sealed"
    events = [e for e in brig.audit(own) if e.action == "gateway.buffer_denied"]
    assert len(events) == 1 and events[0].outcome == "denied"
    assert events[0].details["op"] == FOREIGN[case](own, other).op


async def test_agent_sees_refusal_as_error_of_our_tree(brig: GatewayRig) -> None:
    own, other = new_tenant(), new_tenant()
    signer = brig.enroll(own)
    async with brig.tunnel(own, signer) as tunnel:
        await tunnel.wait_connected()
        channel = GatewayChannel(tunnel, asyncio.get_running_loop())
        with pytest.raises(GatewayRefusedError) as refused:
            await asyncio.to_thread(GatewayKeyring(channel).current, other)
        assert refused.value.fields["code"] == "forbidden"
        too_big = GatewayBackend(channel, tenant=own)
        with pytest.raises(InvalidInputError) as oversized:
            await asyncio.to_thread(too_big.put, f"{own}/r/big.vsc", b"\0" * (MAX_OBJECT + 1))
        assert oversized.value.fields["code"] == "too_large"


BAD_REQUESTS = {
    "garbage": b"\xff\xff",
    "header_not_json": b"\x00\x00\x00\x05{bad}",
    "header_length_lies": b"\x00\x00\x10\x00{}",
    "unknown_op": encode_envelope(Request(op="key.current", tenant="x")).replace(
        b"key.current", b"key.delete!"
    ),
    "huge_header": b"\x00\x00\x20\x00" + b"{" + b" " * 0x2000,
    "oversized_object": None,
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
async def test_malformed_or_oversized_request_is_refused_without_killing_the_session(
    brig: GatewayRig, case: str
) -> None:
    tenant = new_tenant()
    signer = brig.enroll(tenant)
    async with raw_session(brig, tenant, signer) as ws:
        bad = BAD_REQUESTS[case] or encode_envelope(
            Request(op="obj.put", tenant=tenant, key=f"{tenant}/r/x.vsc", size=MAX_OBJECT + 1)
        )
        await ws.send(encode_frame(Kind.REQUEST, 5, bad))
        frame = await ws.recv()
        assert frame[0] == Kind.RESPONSE and int.from_bytes(frame[1:5]) == 5
        response, _ = decode_response(frame[5:])
        assert (response.ok, response.error) == (False, "InvalidInputError")
        assert response.code == ("too_large" if case == "oversized_object" else "bad_request")
        # Same socket, next request: answered.
        await ws.send(
            encode_frame(Kind.REQUEST, 6, encode_envelope(Request(op="key.current", tenant=tenant)))
        )
        frame = await ws.recv()
        response, key = decode_response(frame[5:])
        assert int.from_bytes(frame[1:5]) == 6 and response.ok and len(key) == 32
    assert "gateway.request_refused" in brig.actions(tenant)
    assert "gateway.protocol_violation" not in brig.actions(tenant)
