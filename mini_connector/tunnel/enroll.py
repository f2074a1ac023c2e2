"""The agent's one enrollment exchange: register its public key with a one-time token."""

from __future__ import annotations

import ssl

import websockets
from pydantic import ValidationError

from activities.errors import GatewayRefusedError, TunnelProtocolError
from mini_connector.tunnel.protocol import ENROLL_PATH, Enroll, Enrolled, ErrorMessage, check_gateway_url
from mini_connector.tunnel.signer import Signer

_TIMEOUT_S = 15.0


async def enroll(
    gateway_url: str,
    *,
    token: str,
    agent_id: str,
    signer: Signer,
    host: str = "",
    version: str = "",
    ssl_context: ssl.SSLContext | None = None,
) -> Enrolled:
    """Send the public key of ``signer`` to the gateway with ``token``; the private key stays here.

    Raises:
        GatewayRefusedError: ``code`` is the gateway's refusal code (token_used, token_expired, ...).
        TunnelProtocolError: The URL is not allowed or the gateway answered nonsense.
    """
    check_gateway_url(gateway_url)
    url = gateway_url.rstrip("/") + ENROLL_PATH
    message = Enroll(
        token=token, agent_id=agent_id, public_key=signer.public_key_b64(), host=host, version=version
    )
    async with websockets.connect(
        url, ssl=ssl_context if url.startswith("wss://") else None, compression=None, open_timeout=_TIMEOUT_S
    ) as ws:
        await ws.send(message.model_dump_json())
        reply = await ws.recv()
    try:
        return Enrolled.model_validate_json(reply)
    except ValidationError:
        pass
    try:
        error = ErrorMessage.model_validate_json(reply)
    except ValidationError:
        raise TunnelProtocolError("the gateway answered the enrollment with an unknown message") from None
    raise GatewayRefusedError(f"enrollment of agent {agent_id!r} refused: {error.code}", code=error.code)
