"""Dialling the gateway for one-shot exchanges (enrollment, doctor probes), with clear failures.

Every way a dial can fail (DNS, refused, timeout, bad certificate, a peer that is not a gateway)
is translated here once into our error tree, naming the host but never the token.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidProxy,
    InvalidStatus,
    InvalidURI,
    ProxyError,
)

from activities.errors import (
    GatewayCertificateError,
    GatewayProtocolError,
    GatewayUnreachableError,
    InvalidInputError,
    VscError,
)

ENROLL_PATH = "/agent/v1/enroll"
CONNECT_PATH = "/agent/v1/connect"
MAX_FRAME_BYTES = 1 << 20


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback IP literal (the only place plain ``ws://`` is allowed)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def endpoint(gateway_url: str, path: str) -> str:
    """The WebSocket URL of one gateway endpoint.

    Args:
        gateway_url: What the operator typed: ``wss://host[:port]`` (a path prefix is kept).
        path: The protocol endpoint, e.g. :data:`ENROLL_PATH`.

    Raises:
        InvalidInputError: Not ws/wss, no host, or plain ``ws://`` to a non-loopback host.
    """
    parts = urlsplit(gateway_url.strip())
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise InvalidInputError(f"gateway URL {gateway_url!r} must look like wss://gateway.example.com")
    if parts.scheme == "ws" and not is_loopback(parts.hostname):
        raise InvalidInputError(
            f"gateway URL {gateway_url!r}: plain ws:// is allowed only to a loopback address; use wss://"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise InvalidInputError(
            f"gateway URL {gateway_url!r} must not carry credentials, a query or a fragment"
        )
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}{path}"


def host_port(url: str) -> tuple[str, int]:
    """Host and port a ws/wss URL dials (default ports 80 / 443)."""
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "wss" else 80)


def _where(url: str) -> str:
    host, port = host_port(url)
    return f"{host}:{port}"


# first matching row wins, so subclasses (certificate errors are OSErrors) come before their bases
_DIAL_ERRORS: tuple[tuple[type[BaseException], Callable[[str, BaseException], VscError]], ...] = (
    (
        ssl.SSLCertVerificationError,
        lambda url, e: GatewayCertificateError(
            f"gateway {_where(url)} presented a TLS certificate that does not verify "
            f"({getattr(e, 'verify_message', None) or 'untrusted'}); check the URL, or trust its CA "
            "with SSL_CERT_FILE",
            gateway=_where(url),
        ),
    ),
    (
        ssl.SSLError,
        lambda url, e: GatewayCertificateError(
            f"TLS handshake with gateway {_where(url)} failed ({getattr(e, 'reason', None) or 'ssl error'})",
            gateway=_where(url),
        ),
    ),
    (
        socket.gaierror,
        lambda url, e: GatewayUnreachableError(
            f"cannot resolve gateway host {host_port(url)[0]!r}: check the URL and DNS", gateway=_where(url)
        ),
    ),
    (
        ConnectionRefusedError,
        lambda url, e: GatewayUnreachableError(
            f"gateway {_where(url)} refused the connection: nothing listens there, or a firewall rejects it",
            gateway=_where(url),
        ),
    ),
    (
        TimeoutError,
        lambda url, e: GatewayUnreachableError(
            f"gateway {_where(url)} did not answer in time: check the URL, the outbound firewall and proxy",
            gateway=_where(url),
        ),
    ),
    (
        InvalidStatus,
        lambda url, e: GatewayProtocolError(
            f"{_where(url)} answered HTTP {getattr(getattr(e, 'response', None), 'status_code', '?')} "
            "instead of a WebSocket upgrade: is this the agent gateway URL?",
            gateway=_where(url),
        ),
    ),
    (
        InvalidProxy,
        lambda url, e: GatewayUnreachableError(f"the configured proxy is invalid: {e}", gateway=_where(url)),
    ),
    (
        ProxyError,
        lambda url, e: GatewayUnreachableError(
            f"the proxy refused to connect to gateway {_where(url)}: {e}", gateway=_where(url)
        ),
    ),
    (
        InvalidHandshake,
        lambda url, e: GatewayProtocolError(
            f"{_where(url)} did not complete a WebSocket handshake: is this the agent gateway URL?",
            gateway=_where(url),
        ),
    ),
    (
        InvalidURI,
        lambda url, e: GatewayProtocolError(f"gateway URL for {_where(url)} is invalid", gateway=_where(url)),
    ),
    (
        ConnectionClosed,
        lambda url, e: GatewayProtocolError(
            f"gateway {_where(url)} closed the connection before replying "
            f"(close code {getattr(getattr(e, 'rcvd', None), 'code', 'none')})",
            gateway=_where(url),
        ),
    ),
    (
        OSError,
        lambda url, e: GatewayUnreachableError(
            f"cannot connect to gateway {_where(url)}: {getattr(e, 'strerror', None) or type(e).__name__}",
            gateway=_where(url),
        ),
    ),
)


@contextmanager
def gateway_errors(url: str) -> Iterator[None]:
    """Translate socket, TLS and WebSocket failures while talking to ``url`` into our errors."""
    try:
        yield
    except VscError:
        raise
    except tuple(exc_type for exc_type, _ in _DIAL_ERRORS) as exc:
        build = next(make for exc_type, make in _DIAL_ERRORS if isinstance(exc, exc_type))
        raise build(url, exc) from None


@asynccontextmanager
async def dial(url: str, *, wait_s: float) -> AsyncIterator[ClientConnection]:
    """Open a WebSocket to ``url`` as the contract wants it: no compression, 1 MiB frames.

    Proxies come from the environment (``HTTPS_PROXY``, ``NO_PROXY``; websockets >= 15).
    """
    async with connect(url, compression=None, max_size=MAX_FRAME_BYTES, open_timeout=wait_s) as ws:
        yield ws
