"""Session authentication: proof of the enrolled key, clock skew, revocation; each refusal audited."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable

import websockets
from websockets.exceptions import ConnectionClosed

from console_api.gateway import revoke_agent
from mini_connector.tunnel import CONNECT_PATH, InMemoryEd25519Signer, auth_message
from mini_connector.tunnel.protocol import Challenge, Hello
from tests.console_api.gateway.conftest import GatewayRig, new_tenant


async def until(condition: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():  # noqa: ASYNC110 - polls state owned by another task
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), 30)


async def raw_session(
    rig: GatewayRig,
    tenant: str,
    signer,
    *,
    agent_id: str = "edge-1",
    skew: int = 0,
    gateway: str | None = None,
) -> tuple[str, int | None]:
    """Run the handshake by hand; returns the gateway's reply type or error code, and the close code."""
    async with websockets.connect(rig.gateway.url + CONNECT_PATH, compression=None) as ws:
        challenge = Challenge.model_validate_json(await ws.recv())
        ts = int(time.time()) + skew
        msg = auth_message(
            gateway=gateway or challenge.gateway,
            nonce=challenge.nonce,
            tenant=tenant,
            agent_id=agent_id,
            ts=ts,
        )
        sig = base64.b64encode(signer.sign(msg)).decode()
        await ws.send(Hello(tenant=tenant, agent_id=agent_id, ts=ts, signature=sig).model_dump_json())
        import json

        reply = json.loads(await ws.recv())
        if reply["type"] == "welcome":
            return "welcome", None
        try:
            await ws.recv()
        except ConnectionClosed:
            pass
        return reply["code"], ws.close_code


def refused_codes(rig: GatewayRig, tenant: str) -> list[str]:
    return [e.details["code"] for e in rig.audit(tenant) if e.action == "gateway.auth_refused"]


async def test_enrolled_agent_is_welcomed(rig: GatewayRig) -> None:
    tenant = new_tenant()
    signer = rig.enroll(tenant)
    assert (await raw_session(rig, tenant, signer))[0] == "welcome"


async def test_unknown_agent_is_refused_4401(rig: GatewayRig) -> None:
    tenant = new_tenant()
    rig.enroll(tenant)
    assert await raw_session(rig, tenant, InMemoryEd25519Signer(), agent_id="edge-9") == (
        "unknown_agent",
        4401,
    )
    assert refused_codes(rig, rig.gateway.audit.platform_tenant)[-1] == "unknown_agent"


async def test_bad_signature_is_refused_4401(rig: GatewayRig) -> None:
    tenant = new_tenant()
    rig.enroll(tenant)
    assert await raw_session(rig, tenant, InMemoryEd25519Signer()) == ("bad_signature", 4401)
    assert refused_codes(rig, tenant) == ["bad_signature"]


async def test_signature_for_another_gateway_is_refused(rig: GatewayRig) -> None:
    tenant = new_tenant()
    signer = rig.enroll(tenant)
    assert await raw_session(rig, tenant, signer, gateway="gw-other") == ("bad_signature", 4401)


async def test_clock_skew_is_refused_4401(rig: GatewayRig) -> None:
    tenant = new_tenant()
    signer = rig.enroll(tenant)
    assert await raw_session(rig, tenant, signer, skew=-120) == ("clock_skew", 4401)
    assert refused_codes(rig, tenant) == ["clock_skew"]


async def test_revoked_agent_is_refused_4403(rig: GatewayRig) -> None:
    tenant = new_tenant()
    signer = rig.enroll(tenant)
    assert revoke_agent(rig.engine, tenant_id=tenant, agent_id="edge-1")
    assert await raw_session(rig, tenant, signer) == ("revoked", 4403)
    assert refused_codes(rig, tenant) == ["revoked"]


async def test_revoking_a_connected_agent_drops_it_and_refuses_reconnects(rig: GatewayRig) -> None:
    tenant = new_tenant()
    signer = rig.enroll(tenant)
    async with rig.tunnel(tenant, signer) as tunnel:
        await tunnel.wait_connected()
        assert rig.gateway.sessions_of(tenant, "edge-1")
        await rig.gateway.revoke(tenant_id=tenant, agent_id="edge-1")
        await until(lambda: tunnel.last_refusal is not None)
        assert tunnel.last_refusal.fields["code"] == "revoked"
        assert not rig.gateway.sessions_of(tenant, "edge-1")
    assert {"gateway.session_closed", "gateway.auth_refused"} <= set(rig.actions(tenant))


async def test_revocation_from_another_process_closes_the_session_at_the_next_presence_tick(
    rig: GatewayRig,
) -> None:
    tenant = new_tenant()
    signer = rig.enroll(tenant)
    async with rig.tunnel(tenant, signer) as tunnel:
        await tunnel.wait_connected()
        revoke_agent(rig.engine, tenant_id=tenant, agent_id="edge-1")  # DB only, as the console would
        await until(lambda: tunnel.last_refusal is not None)
    assert "gateway.session_revoked" in rig.actions(tenant)


async def test_replayed_hello_from_an_earlier_session_is_refused(rig: GatewayRig) -> None:
    """S11 "replayed frames": a captured hello is bound to its session's nonce and is worthless later."""
    tenant = new_tenant()
    signer = rig.enroll(tenant)
    async with websockets.connect(rig.gateway.url + CONNECT_PATH, compression=None) as ws:
        challenge = Challenge.model_validate_json(await ws.recv())
        ts = int(time.time())
        msg = auth_message(
            gateway=challenge.gateway, nonce=challenge.nonce, tenant=tenant, agent_id="edge-1", ts=ts
        )
        captured = Hello(
            tenant=tenant, agent_id="edge-1", ts=ts, signature=base64.b64encode(signer.sign(msg)).decode()
        ).model_dump_json()
        await ws.send(captured)
        assert '"welcome"' in await ws.recv()
    async with websockets.connect(rig.gateway.url + CONNECT_PATH, compression=None) as ws:
        fresh = Challenge.model_validate_json(await ws.recv())
        assert fresh.nonce != challenge.nonce
        await ws.send(captured)  # the attacker's replay, within the clock-skew window
        assert '"bad_signature"' in await ws.recv()
        try:
            await ws.recv()
        except ConnectionClosed:
            pass
        assert ws.close_code == 4401
    assert refused_codes(rig, tenant) == ["bad_signature"]
