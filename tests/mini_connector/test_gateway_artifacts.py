"""The agent's artifact source without a gateway: what it does with what it is sent, and its cache."""

from __future__ import annotations

import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from activities.errors import ArtifactIntegrityError, InvalidInputError, TunnelProtocolError
from mini_connector.artifact_cache import ArtifactCache
from mini_connector.gateway_artifacts import GatewayArtifacts
from mini_connector.tunnel.rpc import Request, Response

TENANT = "acme"
DATA = b"component bytes " * 1000


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FakeChannel:
    """Answers artifact.get from a byte string in fixed windows; ``serve`` may differ from the asked hash."""

    def __init__(self, serve: bytes, *, window: int = 4096, gate: threading.Event | None = None) -> None:
        self.serve, self.window, self.gate = serve, window, gate
        self.requests: list[Request] = []

    def call(self, header: Request, body: bytes = b"") -> tuple[Response, bytes]:
        if self.gate is not None:
            self.gate.wait(5)
        self.requests.append(header)
        part = self.serve[header.offset : header.offset + self.window]
        more = header.offset + len(part) < len(self.serve)
        return Response(ok=True, size=len(self.serve), more=more), part


def source(channel: FakeChannel, cache: ArtifactCache | None = None) -> GatewayArtifacts:
    return GatewayArtifacts(channel, cache=cache)  # type: ignore[arg-type]


def test_received_bytes_not_matching_the_hash_are_refused_and_not_cached(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path)
    tampered = DATA[:-1] + b"!"
    with pytest.raises(ArtifactIntegrityError):
        source(FakeChannel(tampered), cache).get(tenant=TENANT, kind="sdk-component", sha256=digest(DATA))
    assert cache.size() == 0


def test_windows_are_reassembled_in_order(tmp_path: Path) -> None:
    channel = FakeChannel(DATA, window=1000)
    got = source(channel).get(tenant=TENANT, kind="sdk-component", sha256=digest(DATA))
    assert got == DATA
    assert [r.offset for r in channel.requests] == list(range(0, len(DATA), 1000))
    assert {(r.op, r.tenant, r.kind) for r in channel.requests} == {("artifact.get", TENANT, "sdk-component")}


def test_an_empty_window_that_promises_more_is_a_protocol_error() -> None:
    class Stuck(FakeChannel):
        def call(self, header: Request, body: bytes = b"") -> tuple[Response, bytes]:
            return Response(ok=True, size=10, more=True), b""

    with pytest.raises(TunnelProtocolError):
        source(Stuck(b"")).get(tenant=TENANT, kind="sdk-component", sha256=digest(b"x"))


@pytest.mark.parametrize("kind,sha", [("../etc", "0" * 64), ("sdk-component", "../../x"), ("SDK", "0" * 64)])
def test_malformed_names_are_refused_before_anything_is_sent(tmp_path: Path, kind: str, sha: str) -> None:
    channel = FakeChannel(DATA)
    with pytest.raises(InvalidInputError):
        source(channel, ArtifactCache(tmp_path)).get(tenant=TENANT, kind=kind, sha256=sha)
    assert channel.requests == []


def test_concurrent_gets_download_once(tmp_path: Path) -> None:
    gate = threading.Event()
    channel = FakeChannel(DATA, window=len(DATA), gate=gate)
    src = source(channel, ArtifactCache(tmp_path))
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [
            pool.submit(src.get, tenant=TENANT, kind="sdk-component", sha256=digest(DATA)) for _ in range(4)
        ]
        gate.set()
        assert all(f.result(timeout=10) == DATA for f in futures)
    assert len(channel.requests) == 1


def test_cache_is_bounded_and_evicts_the_least_recently_read(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path, max_bytes=2500)
    blobs = [bytes([i]) * 1000 for i in range(3)]
    for i, blob in enumerate(blobs[:2]):
        cache.put(tenant=TENANT, kind="sdk-component", sha256=digest(blob), data=blob)
        path = cache.path(tenant=TENANT, kind="sdk-component", sha256=digest(blob))
        os.utime(path, ns=(10**18 + i, 10**18 + i))
    assert cache.get(tenant=TENANT, kind="sdk-component", sha256=digest(blobs[0])) == blobs[0]  # now newest
    cache.put(tenant=TENANT, kind="sdk-component", sha256=digest(blobs[2]), data=blobs[2])
    assert cache.size() <= 2500
    assert cache.get(tenant=TENANT, kind="sdk-component", sha256=digest(blobs[1])) is None
    assert cache.get(tenant=TENANT, kind="sdk-component", sha256=digest(blobs[0])) == blobs[0]
    too_big = b"z" * 3000
    cache.put(tenant=TENANT, kind="sdk-component", sha256=digest(too_big), data=too_big)
    assert cache.get(tenant=TENANT, kind="sdk-component", sha256=digest(too_big)) is None


def test_cache_files_are_private_and_truncated_ones_are_misses(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path / "c")
    cache.put(tenant=TENANT, kind="api-description", sha256=digest(DATA), data=DATA)
    path = cache.path(tenant=TENANT, kind="api-description", sha256=digest(DATA))
    assert path.stat().st_mode & 0o077 == 0
    path.write_bytes(DATA[:100])
    assert cache.get(tenant=TENANT, kind="api-description", sha256=digest(DATA)) is None
    assert not path.exists()
