"""Enrollment: register this agent's public key with the gateway using a one-time token.

One exchange over ``/agent/v1/enroll`` (agent protocol v1). The private key never leaves the
agent; the token is sent once and never printed or logged.
"""

from __future__ import annotations

import asyncio
import json
import socket
from importlib.metadata import PackageNotFoundError, version

from pydantic import BaseModel, ConfigDict, ValidationError

from activities.errors import GatewayProtocolError, GatewayRefusedError, GatewayUnreachableError
from mini_connector._dial import ENROLL_PATH, dial, endpoint, gateway_errors
from mini_connector.tunnel.signer import Signer

__all__ = ["REFUSALS", "EnrollResult", "agent_version", "enroll"]

REFUSALS = {
    "token_invalid": "the gateway does not know this enrollment token; copy it again or create a new one "
    "in the console",
    "token_expired": "the enrollment token has expired (tokens are valid for 1 hour); create a new one "
    "in the console",
    "token_used": "the enrollment token was already used (each token enrolls one agent once); create a "
    "new one in the console",
    "agent_id_mismatch": "the enrollment token was issued for a different agent id; pass the agent id "
    "shown next to the token in the console",
    "bad_request": "the gateway rejected the enrollment request as malformed; check that this agent "
    "version is supported",
}


def agent_version() -> str:
    """The installed agent's version, sent to the gateway for presence and support."""
    try:
        return version("van-sales-connector")
    except PackageNotFoundError:
        return "0+unknown"


class EnrollResult(BaseModel):
    """What the gateway confirmed: the tenant the token belonged to and the agent id."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    tenant: str
    agent_id: str


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str
    tenant: str | None = None
    agent_id: str | None = None
    code: str | None = None
    detail: str | None = None


def _printable(text: str | None, limit: int = 200) -> str:
    return "".join(ch for ch in (text or "") if ch.isprintable())[:limit]


def _interpret(raw: str | bytes, *, agent_id: str, where: str) -> EnrollResult:
    try:
        reply = _Reply.model_validate(json.loads(raw))
    except (ValueError, ValidationError):
        raise GatewayProtocolError(f"gateway {where} sent a reply that is not an enrollment answer") from None
    if reply.type == "error":
        code = _printable(reply.code, 40) or "unknown"
        message = REFUSALS.get(code, f"the gateway refused the enrollment (code {code!r})")
        detail = _printable(reply.detail)
        raise GatewayRefusedError(
            f"enrollment refused: {message}" + (f" [{detail}]" if detail else ""), code=code
        )
    if reply.type != "enrolled" or not reply.tenant or reply.agent_id != agent_id:
        raise GatewayProtocolError(f"gateway {where} did not confirm the enrollment of agent {agent_id!r}")
    return EnrollResult(tenant=reply.tenant, agent_id=reply.agent_id)


async def enroll(
    *, gateway_url: str, token: str, agent_id: str, key: Signer, wait_s: float = 10.0
) -> EnrollResult:
    """Send the enroll message and wait for the gateway's verdict.

    Args:
        gateway_url: Base URL of the gateway (``wss://...``).
        token: The one-time enrollment token from the console.
        agent_id: The connector id this agent enrolls as.
        key: The agent's key (freshly generated); only its public half is sent.
        wait_s: Seconds for the connection and for the reply each.

    Returns:
        The tenant and agent id the gateway recorded.

    Raises:
        GatewayRefusedError: The gateway answered with an error code.
        GatewayUnreachableError: DNS, refused connection or timeout.
        GatewayCertificateError: The gateway's TLS certificate does not verify.
        GatewayProtocolError: The peer is not an agent gateway, or answered nonsense.
        InvalidInputError: The URL is malformed or plain ws:// to a non-loopback host.
    """
    url = endpoint(gateway_url, ENROLL_PATH)
    message = {
        "type": "enroll",
        "token": token,
        "agent_id": agent_id,
        "public_key": key.public_key_b64(),
        "host": socket.gethostname(),
        "version": agent_version(),
    }
    with gateway_errors(url):
        async with dial(url, wait_s=wait_s) as ws:
            await ws.send(json.dumps(message))
            try:
                raw = await asyncio.wait_for(ws.recv(), wait_s)
            except TimeoutError:
                raise GatewayUnreachableError(
                    f"gateway {url} accepted the connection but did not reply"
                ) from None
    return _interpret(raw, agent_id=agent_id, where=url)
