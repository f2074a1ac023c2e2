"""Pinned SDK artifacts fetched over the agent's gateway session (``artifact.get``), cached on disk.

The agent holds no object-store credential: the gateway reads the cloud's artifact registry
for the session's tenant and sends the bytes in windows of one frame. The agent trusts neither
the wire nor its own disk: what it received is checked against the sha256 it asked for, and so
is every read of its cache (:mod:`mini_connector.artifact_cache`). Concurrent gets of one
artifact wait for a single download.
"""

from __future__ import annotations

import hashlib
import threading

from activities.errors import ArtifactIntegrityError, TunnelProtocolError
from mini_connector.artifact_cache import ArtifactCache, check_artifact_name
from mini_connector.gateway_buffer import GatewayChannel
from mini_connector.tunnel.rpc import Request

__all__ = ["GatewayArtifacts"]


class GatewayArtifacts:
    """:class:`~activities.api_sources.ArtifactSource` answered by the gateway, with a disk cache.

    Args:
        channel: The session calls go over.
        cache: Where verified artifacts are kept between runs (``None``: fetched every time).
    """

    def __init__(self, channel: GatewayChannel, *, cache: ArtifactCache | None = None) -> None:
        self._channel = channel
        self._cache = cache
        self._mutex = threading.Lock()
        self._fetching: dict[tuple[str, str, str], threading.Lock] = {}

    def get(self, *, tenant: str, kind: str, sha256: str) -> bytes:
        """The artifact's bytes, from the cache or the gateway.

        Raises:
            InvalidInputError: Malformed kind or digest (nothing is sent).
            ArtifactNotFoundError: The tenant has no such artifact.
            ArtifactIntegrityError: The bytes (at rest in the cloud, or as received) do not hash
                to ``sha256``.
            GatewayRefusedError: The gateway refused the request (another tenant, a kind agents
                may not fetch); audited there.
            GatewayUnreachableError: No session, or no answer in time (transient).
        """
        check_artifact_name(kind, sha256)
        name = (tenant, kind, sha256)
        with self._mutex:
            lock = self._fetching.setdefault(name, threading.Lock())
        # one lock per artifact name, kept: a handful of SDK versions per agent process
        with lock:
            if self._cache is not None:
                cached = self._cache.get(tenant=tenant, kind=kind, sha256=sha256)
                if cached is not None:
                    return cached
            data = self._download(tenant=tenant, kind=kind, sha256=sha256)
            if self._cache is not None:
                self._cache.put(tenant=tenant, kind=kind, sha256=sha256, data=data)
            return data

    def _download(self, *, tenant: str, kind: str, sha256: str) -> bytes:
        what = f"artifact {kind}/{sha256[:12]}"
        out = bytearray()
        digest = hashlib.sha256()
        size: int | None = None
        while True:
            response, body = self._channel.call(
                Request(op="artifact.get", tenant=tenant, kind=kind, sha256=sha256, offset=len(out))
            )
            if size is None:
                size = response.size
            elif response.size != size:
                raise TunnelProtocolError(f"{what} changed size between windows")
            out += body
            digest.update(body)
            if len(out) > size:
                raise TunnelProtocolError(f"the gateway sent more of {what} than its size")
            if not response.more:
                break
            if not body:
                raise TunnelProtocolError(f"the gateway sent an empty window of {what}")
        if len(out) != size or digest.hexdigest() != sha256:
            raise ArtifactIntegrityError(
                f"{what} received from the gateway does not match its hash",
                tenant=tenant,
            )
        return bytes(out)
