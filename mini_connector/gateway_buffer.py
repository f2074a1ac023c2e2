"""The agent's buffer when it runs behind a gateway: objects and data keys fetched over its session.

The agent holds no object-store credential and no master key: the gateway stores the sealed
bytes in the cloud's buffer and hands out the session tenant's data keys, which the agent keeps
in memory only. Sealing still happens here (``BufferStore`` on the agent), so plaintext rows
never leave the premises.

Activities run in worker threads; each call is handed to the event loop that owns the tunnel
and waited for synchronously.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Literal

from activities.buffer import BufferStore, ObjectBackend, ObjectInfo
from activities.crypto import DataKey, Keyring, check_tenant
from activities.errors import GatewayUnreachableError, InvalidInputError, TunnelProtocolError
from activities.settings import BufferConfig
from mini_connector.tunnel.client import TunnelClient
from mini_connector.tunnel.rpc import (
    DEFAULT_REQUEST_TIMEOUT_S,
    ENVELOPE_OVERHEAD,
    Op,
    Request,
    Response,
    parse_listing,
    raise_for,
)

_CALL_TIMEOUT_S = 2 * DEFAULT_REQUEST_TIMEOUT_S
"""Longest a call waits in all, including for a session to come back."""


class GatewayChannel:
    """Blocking calls over the tunnel's session, usable from activity threads.

    Args:
        tunnel: The agent's tunnel client (already started).
        loop: The event loop the tunnel runs on.
    """

    def __init__(self, tunnel: TunnelClient, loop: asyncio.AbstractEventLoop) -> None:
        self._tunnel = tunnel
        self._loop = loop
        self.part_size = tunnel.max_frame - ENVELOPE_OVERHEAD

    def call(self, header: Request, body: bytes = b"") -> tuple[Response, bytes]:
        """Send one request, wait for its response, raise the error it names.

        Raises:
            GatewayUnreachableError: The session is down or the gateway did not answer in time.
            VscError: The error the gateway reported (not found, refused, key unavailable, ...).
        """
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            raise RuntimeError("gateway buffer calls block; call them from a worker thread")
        future = asyncio.run_coroutine_threadsafe(self._tunnel.request(header, body), self._loop)
        try:
            response, data = future.result(timeout=_CALL_TIMEOUT_S)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise GatewayUnreachableError(
                f"no gateway session answered {header.op} within {_CALL_TIMEOUT_S:.0f}s"
            ) from None
        raise_for(response)
        return response, data


_KEY_OPS: dict[str, tuple[Op, Op]] = {
    "buffer": ("key.current", "key.get"),
    "payload": ("payload_key.current", "payload_key.get"),
}


class GatewayKeyring:
    """:class:`~activities.crypto.Keyring` answered by the gateway; keys cached in memory only.

    ``current`` asks every time, so rotation and message counting stay with the gateway's keyring.

    Args:
        channel: The session calls go over.
        purpose: ``buffer`` (the buffer's data keys) or ``payload`` (the Temporal payload codec's keys).
    """

    def __init__(self, channel: GatewayChannel, *, purpose: Literal["buffer", "payload"] = "buffer") -> None:
        self._channel = channel
        self._current_op, self._get_op = _KEY_OPS[purpose]
        self._cache: dict[tuple[str, str], DataKey] = {}
        self._mutex = threading.Lock()

    def current(self, tenant: str) -> DataKey:
        """The tenant's current data key, one message counted by the gateway."""
        return self._fetch(self._current_op, tenant, "")

    def get(self, tenant: str, key_id: str) -> DataKey:
        """One of the tenant's keys by id, from memory or the gateway."""
        with self._mutex:
            cached = self._cache.get((tenant, key_id))
        return cached or self._fetch(self._get_op, tenant, key_id)

    def _fetch(self, op: Op, tenant: str, key_id: str) -> DataKey:
        check_tenant(tenant)
        response, body = self._channel.call(Request(op=op, tenant=tenant, key_id=key_id))
        if not response.key_id or len(body) != 32:
            raise TunnelProtocolError(f"the gateway sent a malformed data key for tenant {tenant!r}")
        key = DataKey(key_id=response.key_id, key=body)
        with self._mutex:
            self._cache[(tenant, key.key_id)] = key
        return key


class GatewayBackend:
    """:class:`~activities.buffer.ObjectBackend` executed by the gateway against the cloud's store.

    Args:
        channel: The session calls go over.
        tenant: The agent's tenant; every key must lie under ``<tenant>/`` (the gateway enforces it too).
    """

    def __init__(self, channel: GatewayChannel, *, tenant: str) -> None:
        self._channel = channel
        self._tenant = check_tenant(tenant)

    def put(self, key: str, data: bytes) -> None:
        """Upload in parts of at most one frame; the gateway stores the object once all arrived."""
        step = self._channel.part_size
        upload = uuid.uuid4().hex
        parts = [data[i : i + step] for i in range(0, len(data), step)] or [b""]
        for index, part in enumerate(parts):
            self._channel.call(
                Request(
                    op="obj.put",
                    tenant=self._tenant,
                    key=key,
                    upload=upload,
                    part=index,
                    final=index == len(parts) - 1,
                    size=len(data),
                ),
                part,
            )

    def get(self, key: str, *, length: int | None = None) -> bytes:
        """Download in windows of at most one frame."""
        out = bytearray()
        while True:
            response, body = self._channel.call(
                Request(op="obj.get", tenant=self._tenant, key=key, offset=len(out), length=length)
            )
            out += body
            if not response.more:
                return bytes(out)
            if not body:
                raise TunnelProtocolError(f"the gateway sent an empty part of buffer object {key!r}")

    def delete(self, key: str) -> None:
        """Remove ``key`` in the cloud's store."""
        self._channel.call(Request(op="obj.delete", tenant=self._tenant, key=key))

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Page through the objects under ``prefix`` (which must be inside the tenant's prefix)."""
        offset = 0
        while True:
            response, body = self._channel.call(
                Request(op="obj.list", tenant=self._tenant, key=prefix, offset=offset)
            )
            entries = parse_listing(body)
            for key, size, modified in entries:
                yield ObjectInfo(key=key, size=size, last_modified=datetime.fromisoformat(modified))
            offset += len(entries)
            if not response.more:
                return


def build_gateway_buffer(
    cfg: BufferConfig, *, tenant: str, tunnel: TunnelClient | None, loop: asyncio.AbstractEventLoop
) -> BufferStore:
    """The agent's buffer store over its gateway session (only ``cfg.ttl`` is used from ``cfg``).

    Raises:
        InvalidInputError: No tunnel: a gateway-configured agent must not fall back to local storage.
    """
    if tunnel is None:
        raise InvalidInputError("the agent names a gateway but has no gateway session for its buffer")
    channel = GatewayChannel(tunnel, loop)
    backend: ObjectBackend = GatewayBackend(channel, tenant=tenant)
    keyring: Keyring = GatewayKeyring(channel)
    return BufferStore(backend=backend, keyring=keyring, ttl=cfg.ttl)


def gateway_payload_keyring(tunnel: TunnelClient, loop: asyncio.AbstractEventLoop) -> Keyring:
    """The agent's payload keyring: its tenant's payload keys, only through its gateway session."""
    return GatewayKeyring(GatewayChannel(tunnel, loop), purpose="payload")
