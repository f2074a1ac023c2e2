"""Request/response calls over the agent session (frame kinds 0x10 REQUEST / 0x11 RESPONSE).

A payload is ``header length (4 bytes, big-endian) | JSON header | body``. The header is small
and validated by pydantic on both sides; the body carries raw bytes (an object part, a data key).
Errors travel as the class name of one of a few allowed errors and are raised again on the
agent, so activities see the same error tree whether the buffer is local or behind the gateway.
"""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from activities.errors import (
    ArtifactIntegrityError,
    ArtifactNotFoundError,
    BufferNotFoundError,
    GatewayRefusedError,
    GatewayUnreachableError,
    InvalidInputError,
    KeyUnavailableError,
    ObjectStoreUnavailableError,
    QuotaExceededError,
    TunnelProtocolError,
    VscError,
)
from mini_connector.tunnel.protocol import HEADER_SIZE

MAX_REQUEST_HEADER = 4096
"""Largest JSON header either side accepts; the rest of a frame is body."""
_LENGTH = struct.Struct(">I")
ENVELOPE_OVERHEAD = HEADER_SIZE + _LENGTH.size + MAX_REQUEST_HEADER
DEFAULT_REQUEST_TIMEOUT_S = 60.0

Op = Literal[
    "key.current",
    "key.get",
    "payload_key.current",
    "payload_key.get",
    "obj.put",
    "obj.get",
    "obj.list",
    "obj.delete",
    "artifact.get",
]
"""``key.*``: buffer data keys; ``payload_key.*``: Temporal payload keys (a keyring of their own);
``artifact.get``: a pinned SDK artifact of the session tenant from the cloud's artifact registry."""

ERRORS: dict[str, type[VscError]] = {
    cls.__name__: cls
    for cls in (
        BufferNotFoundError,
        ObjectStoreUnavailableError,
        KeyUnavailableError,
        InvalidInputError,
        GatewayRefusedError,
        QuotaExceededError,
        ArtifactNotFoundError,
        ArtifactIntegrityError,
    )
}
"""The errors a RESPONSE may name; anything else the gateway hits is sent as ObjectStoreUnavailableError."""


class _Header(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Request(_Header):
    """Agent -> gateway: one key, object or artifact operation; ``tenant`` must be the session's own."""

    op: Op
    tenant: str = Field(min_length=1, max_length=63)
    key_id: str = Field(default="", max_length=64)
    key: str = Field(default="", max_length=1024)
    """Object key (``obj.*``) or listing prefix (``obj.list``)."""
    offset: int = Field(default=0, ge=0)
    """``obj.get``: first byte wanted; ``obj.list``: first entry wanted."""
    length: int | None = Field(default=None, ge=0)
    upload: str = Field(default="", max_length=64)
    """``obj.put``: id tying the parts of one object together."""
    part: int = Field(default=0, ge=0)
    final: bool = True
    size: int = Field(default=0, ge=0)
    """``obj.put``: the whole object's size, declared up front so an oversized upload is refused at once."""
    kind: str = Field(default="", max_length=40)
    """``artifact.get``: the artifact kind (``sdk-component``, ``api-description``, ...)."""
    sha256: str = Field(default="", max_length=64)
    """``artifact.get``: the artifact's name, the hex sha256 of its bytes."""


class Response(_Header):
    """Gateway -> agent: the result (body: bytes or a JSON listing) or an error."""

    ok: bool
    error: str = ""
    message: str = ""
    code: str = ""
    key_id: str = ""
    size: int = 0
    more: bool = False


def encode_envelope(header: BaseModel, body: bytes = b"") -> bytes:
    """Serialise a header model and body into one REQUEST/RESPONSE payload."""
    raw = header.model_dump_json(exclude_defaults=True).encode()
    return _LENGTH.pack(len(raw)) + raw + body


def _split(payload: bytes) -> tuple[bytes, bytes]:
    if len(payload) < _LENGTH.size:
        raise TunnelProtocolError("request payload shorter than its header length", size=len(payload))
    (length,) = _LENGTH.unpack_from(payload)
    if length > MAX_REQUEST_HEADER or length > len(payload) - _LENGTH.size:
        raise TunnelProtocolError(f"request header of {length} bytes is too large or truncated", size=length)
    start = _LENGTH.size
    return payload[start : start + length], payload[start + length :]


def decode_request(payload: bytes) -> tuple[Request, bytes]:
    """Parse a REQUEST payload.

    Raises:
        TunnelProtocolError: Truncated, oversized header, or a header that is not a valid request.
    """
    raw, body = _split(payload)
    try:
        return Request.model_validate_json(raw), body
    except ValidationError:
        raise TunnelProtocolError("malformed request header") from None


def decode_response(payload: bytes) -> tuple[Response, bytes]:
    """Parse a RESPONSE payload.

    Raises:
        TunnelProtocolError: The gateway sent something that is not a response.
    """
    raw, body = _split(payload)
    try:
        return Response.model_validate_json(raw), body
    except ValidationError:
        raise TunnelProtocolError("malformed response header") from None


def error_response(exc: VscError) -> Response:
    """The RESPONSE for one of our errors; errors outside :data:`ERRORS` are reported as transient."""
    name = exc.type_name if exc.type_name in ERRORS else ObjectStoreUnavailableError.__name__
    return Response(ok=False, error=name, message=exc.message, code=str(exc.fields.get("code", "")))


def raise_for(response: Response) -> None:
    """Raise the error a RESPONSE names (an unknown name is a protocol error)."""
    if response.ok:
        return
    cls = ERRORS.get(response.error)
    if cls is None:
        raise TunnelProtocolError(f"the gateway answered with unknown error {response.error!r}")
    fields = {"code": response.code} if response.code else {}
    raise cls(response.message, **fields)


def listing(entries: list[tuple[str, int, str]]) -> bytes:
    """Body of an ``obj.list`` response: ``[[key, size, last_modified iso], ...]``."""
    return json.dumps(entries).encode()


def parse_listing(body: bytes) -> list[tuple[str, int, str]]:
    """Inverse of :func:`listing`.

    Raises:
        TunnelProtocolError: The body is not a listing.
    """
    try:
        return [(str(k), int(s), str(m)) for k, s, m in json.loads(body)]
    except (ValueError, TypeError):
        raise TunnelProtocolError("malformed object listing") from None


class RequestChannel:
    """The agent's side: numbers requests, matches responses, fails them when the session ends.

    Args:
        timeout: Seconds to wait for one response before giving up (transient, so retried).
    """

    def __init__(self, *, timeout: float = DEFAULT_REQUEST_TIMEOUT_S) -> None:
        self._timeout = timeout
        self._pending: dict[int, asyncio.Future[tuple[Response, bytes]]] = {}
        self._next_id = 1

    def open(self, request_id: int) -> asyncio.Future[tuple[Response, bytes]]:
        """Register a request about to be sent and return the future its response resolves."""
        future: asyncio.Future[tuple[Response, bytes]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        return future

    def discard(self, request_id: int) -> None:
        """Forget a request that could not be sent."""
        future = self._pending.pop(request_id, None)
        if future is not None:
            future.cancel()

    def next_id(self) -> int:
        """A request id not in use on this agent."""
        request_id = self._next_id
        self._next_id = self._next_id % 0xFFFFFFFF + 1
        return request_id

    async def wait(
        self, request_id: int, future: asyncio.Future[tuple[Response, bytes]]
    ) -> tuple[Response, bytes]:
        """Wait for the response to ``request_id``.

        Raises:
            GatewayUnreachableError: No answer in time, or the session ended first.
        """
        try:
            return await asyncio.wait_for(future, self._timeout)
        except TimeoutError:
            raise GatewayUnreachableError(
                f"the gateway did not answer request {request_id} within {self._timeout:.0f}s"
            ) from None
        finally:
            self._pending.pop(request_id, None)

    async def deliver(self, request_id: int, payload: bytes) -> None:
        """Resolve a pending request with its RESPONSE payload (late or unknown ids are dropped)."""
        future = self._pending.get(request_id)
        if future is None or future.done():
            return
        try:
            future.set_result(decode_response(payload))
        except TunnelProtocolError as exc:
            future.set_exception(exc)

    def fail_all(self, reason: str) -> None:
        """The session ended: every request still waiting fails transiently."""
        for future in self._pending.values():
            if not future.done():
                future.set_exception(GatewayUnreachableError(f"gateway session ended: {reason}"))


@contextmanager
def session_errors() -> Iterator[None]:
    """Translate a dropped WebSocket while sending a request into a transient error."""
    from websockets.exceptions import ConnectionClosed

    try:
        yield
    except ConnectionClosed:
        raise GatewayUnreachableError("gateway session closed while sending a request") from None
