"""Wire format of the agent <-> gateway protocol v1 (docs/agent-protocol.md), shared by both sides.

Text messages are pydantic models so that a malformed message fails validation at the edge;
binary frames are ``kind (1 byte) | stream id (4 bytes, big-endian) | payload``.
"""

from __future__ import annotations

import ipaddress
import struct
from enum import IntEnum
from typing import Literal, NamedTuple
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from activities.errors import TunnelProtocolError

ENROLL_PATH = "/agent/v1/enroll"
CONNECT_PATH = "/agent/v1/connect"
AUTH_CONTEXT = "vsc-agent-auth-v1"
DEFAULT_MAX_FRAME = 1 << 20
PING_INTERVAL_S = 10.0
PING_TIMEOUT_S = 20.0
MAX_CLOCK_SKEW_S = 60
CLOSE_AUTH = 4401
CLOSE_REVOKED = 4403
CLOSE_TOO_BIG = 1009
_HEADER = struct.Struct(">BI")
HEADER_SIZE = _HEADER.size


class Kind(IntEnum):
    """Binary frame kinds; REQUEST/RESPONSE carry buffer and key calls (``stream`` is the request id)."""

    OPEN = 0x01
    DATA = 0x02
    CLOSE = 0x03
    REQUEST = 0x10
    RESPONSE = 0x11


class Frame(NamedTuple):
    """One decoded binary frame."""

    kind: Kind
    stream: int
    payload: bytes


def encode_frame(kind: Kind, stream: int, payload: bytes = b"") -> bytes:
    """Serialise one binary frame."""
    return _HEADER.pack(kind, stream) + payload


def decode_frame(data: bytes) -> Frame:
    """Parse one binary frame.

    Raises:
        TunnelProtocolError: The frame is shorter than its header or has an unknown kind.
    """
    if len(data) < HEADER_SIZE:
        raise TunnelProtocolError(f"frame of {len(data)} bytes is shorter than its header", size=len(data))
    kind, stream = _HEADER.unpack_from(data)
    try:
        return Frame(Kind(kind), stream, bytes(data[HEADER_SIZE:]))
    except ValueError:
        raise TunnelProtocolError(f"unknown frame kind 0x{kind:02x}", kind=kind) from None


def auth_message(*, gateway: str, nonce: str, tenant: str, agent_id: str, ts: int) -> bytes:
    """The exact bytes an agent signs to prove it holds its private key for this challenge."""
    return f"{AUTH_CONTEXT}\n{gateway}\n{nonce}\n{tenant}\n{agent_id}\n{ts}".encode()


def is_loopback_host(host: str | None) -> bool:
    """Whether ``host`` names a loopback address (``localhost``, 127.0.0.0/8 or ::1)."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_gateway_url(url: str) -> None:
    """Refuse URLs that would send the session in clear text to a non-loopback gateway.

    Raises:
        TunnelProtocolError: The scheme is not ws/wss, or ws:// points away from loopback.
    """
    parts = urlsplit(url)
    if parts.scheme == "wss":
        return
    if parts.scheme == "ws" and is_loopback_host(parts.hostname):
        return
    raise TunnelProtocolError(
        f"gateway URL {parts.scheme}://{parts.hostname} must use wss:// (plain ws:// only on loopback)",
        gateway=str(parts.hostname),
    )


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Enroll(_Message):
    """Agent -> gateway: register this public key with a one-time token."""

    type: Literal["enroll"] = "enroll"
    token: str = Field(min_length=1, max_length=200)
    agent_id: str = Field(min_length=1, max_length=63)
    public_key: str = Field(min_length=1, max_length=200)
    host: str = Field(default="", max_length=255)
    version: str = Field(default="", max_length=64)


class Enrolled(_Message):
    """Gateway -> agent: the key is registered for this tenant and agent."""

    type: Literal["enrolled"] = "enrolled"
    tenant: str
    agent_id: str


class Challenge(_Message):
    """Gateway -> agent: the nonce to sign."""

    type: Literal["challenge"] = "challenge"
    nonce: str
    gateway: str


class Hello(_Message):
    """Agent -> gateway: who the agent is, what it reaches, and the signed challenge."""

    type: Literal["hello"] = "hello"
    tenant: str = Field(min_length=1, max_length=63)
    agent_id: str = Field(min_length=1, max_length=63)
    version: str = Field(default="", max_length=64)
    host: str = Field(default="", max_length=255)
    endpoints: list[str] = Field(default_factory=list, max_length=1000)
    ts: int
    signature: str = Field(min_length=1, max_length=200)


class Welcome(_Message):
    """Gateway -> agent: the session is open; binary frames may follow."""

    type: Literal["welcome"] = "welcome"
    session: str
    queues: list[str]


class ErrorMessage(_Message):
    """Either side: a refusal with a machine-readable code; the sender closes afterwards."""

    type: Literal["error"] = "error"
    code: str
    detail: str = ""
