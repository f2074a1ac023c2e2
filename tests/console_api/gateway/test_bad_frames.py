"""A misbehaving agent loses only its own socket; the gateway keeps serving everyone else."""

from __future__ import annotations

import pytest
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client
from websockets.exceptions import ConnectionClosed

from mini_connector.tunnel import Kind, encode_frame
from tests.console_api.gateway.conftest import GatewayRig, new_tenant, raw_session

BAD_FRAMES = {
    "short": (b"\x02\x00", 1002),
    "unknown_kind": (encode_frame(0x7F, 1, b"x"), 1002),  # type: ignore[arg-type]
    "text_after_welcome": ("hello?", 1002),
    "open_twice": (None, 1002),
    "response_to_gateway": (encode_frame(Kind.RESPONSE, 1, b"\0\0\0\x02{}"), 1002),
    "oversized": (encode_frame(Kind.DATA, 1, b"\0" * (2 << 20)), 1009),
}


@pytest.mark.parametrize("case", sorted(BAD_FRAMES))
async def test_bad_frame_closes_only_the_offender(rig: GatewayRig, case: str) -> None:
    good, bad = new_tenant(), new_tenant()
    good_signer, bad_signer = rig.enroll(good), rig.enroll(bad)
    async with rig.tunnel(good, good_signer) as tunnel:
        await tunnel.wait_connected()
        client = await Client.connect(tunnel.address)
        async with raw_session(rig, bad, bad_signer) as ws:
            frame, expected_close = BAD_FRAMES[case]
            if frame is None:
                await ws.send(encode_frame(Kind.OPEN, 7))
                frame = encode_frame(Kind.OPEN, 7)
            await ws.send(frame)
            with pytest.raises(ConnectionClosed):
                while True:
                    await ws.recv()
            assert ws.close_code == expected_close
        # The other agent's session is untouched.
        await client.workflow_service.get_system_info(GetSystemInfoRequest())
        assert tunnel.sessions_opened == 1
    if expected_close == 1002:
        assert "gateway.protocol_violation" in rig.actions(bad)
