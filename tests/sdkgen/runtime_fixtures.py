"""Shared pieces of the runtime host tests: the test guest (built once), a fenced host, a canary.

Network fence: every host made here resolves names with ``FakeResolver`` (never the system
resolver) and dials through ``Fence``, which counts every dial and refuses any non-loopback
address before a socket is opened, so no test can reach beyond 127.0.0.1 even if the policy
under test were broken.
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from wasmtime.component import Component

from sdkgen.engine import ENGINE_KEY, engine
from sdkgen.model import Operation
from sdkgen.runtime import ListAuditSink, LoadedSdk, SdkHost

ROOT = Path(__file__).resolve().parents[2]
GUESTS = Path(__file__).parent / "guests"
WIT = ROOT / "sdkgen" / "wit"


def build_guest(*, stub_wasi: bool) -> bytes:
    """Compile tests/sdkgen/guests/runtime_guest.py once; cached on disk by source + WIT hash."""
    src = (GUESTS / "runtime_guest.py").read_bytes() + (WIT / "sdk.wit").read_bytes()
    key = hashlib.sha256(src + bytes([stub_wasi])).hexdigest()[:20]
    cache = Path(tempfile.gettempdir()) / "vsc-sdkgen-runtime-tests"
    cache.mkdir(exist_ok=True)
    out = cache / f"guest-{key}.wasm"
    if not out.exists():
        tmp = out.with_suffix(".tmp")
        cmd = [
            str(Path(sys.executable).parent / "componentize-py"),
            "-d",
            str(WIT),
            "-w",
            "sdk",
            "componentize",
        ]
        if stub_wasi:
            cmd.append("--stub-wasi")
        cmd += ["runtime_guest", "-p", str(GUESTS), "-o", str(tmp)]
        subprocess.run(cmd, check=True, capture_output=True, cwd=cache)
        tmp.rename(out)
    return out.read_bytes()


@pytest.fixture(scope="session")
def guest_component() -> bytes:
    return build_guest(stub_wasi=True)


@pytest.fixture(scope="session")
def guest_precompiled(guest_component: bytes) -> bytes:
    """The precompiled copy, cached on disk next to the component (keyed by its sha256 and ENGINE_KEY)."""
    key = hashlib.sha256(guest_component).hexdigest()[:20]
    out = Path(tempfile.gettempdir()) / "vsc-sdkgen-runtime-tests" / f"guest-{key}-{ENGINE_KEY}.cwasm"
    if not out.exists():
        tmp = out.with_suffix(".tmp")
        tmp.write_bytes(bytes(Component(engine(), guest_component).serialize()))
        tmp.rename(out)
    return out.read_bytes()


class FakeResolver:
    """Names -> addresses from a table (a list per name, or a list of answers for successive lookups)."""

    def __init__(self, table: dict[str, Any] | None = None) -> None:
        self.table: dict[str, Any] = {"localhost": ["127.0.0.1"], **(table or {})}
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        answer = self.table.get(host)
        if answer is None:
            raise socket.gaierror(socket.EAI_NONAME, "unknown name (test resolver)")
        if answer and isinstance(answer[0], list):  # successive answers: rebinding
            n = sum(1 for h in self.lookups if h == host) - 1
            return list(answer[min(n, len(answer) - 1)])
        return list(answer)


@dataclass
class Fence:
    """Counts dials and lets only loopback through (raising ConnectionRefusedError for the rest)."""

    dials: list[tuple[str, int]] = field(default_factory=list)
    blocked: list[tuple[str, int]] = field(default_factory=list)

    def __call__(self, ip: str, port: int) -> None:
        if not ipaddress.ip_address(ip).is_loopback:
            self.blocked.append((ip, port))
            raise ConnectionRefusedError("test fence: non-loopback dial blocked")
        self.dials.append((ip, port))


class Canary:
    """A TCP listener on 127.0.0.1 counting accepted connections: the '0 connections' evidence."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.sock.settimeout(0.05)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def canary() -> Iterator[Canary]:
    c = Canary()
    yield c
    c.close()


@dataclass
class Rig:
    """A host with its fence, resolver and audit sink."""

    host: SdkHost
    sdk: LoadedSdk
    fence: Fence
    resolver: FakeResolver
    audit: ListAuditSink

    def attempts(self) -> int:
        """Connection attempts seen by the transport guard plus the fence (both must be 0 when refused)."""
        return self.host.stats.dials + len(self.fence.dials) + len(self.fence.blocked)


def make_rig(precompiled: bytes, *, table: dict[str, Any] | None = None, **kwargs: Any) -> Rig:
    fence, resolver, audit = Fence(), FakeResolver(table), ListAuditSink()
    host = SdkHost(audit=audit, resolver=resolver, dial_guard=fence, **kwargs)
    sdk = host.load(precompiled, engine_key=ENGINE_KEY)
    return Rig(host=host, sdk=sdk, fence=fence, resolver=resolver, audit=audit)


@pytest.fixture
def rig(guest_precompiled: bytes) -> Iterator[Rig]:
    r = make_rig(guest_precompiled)
    yield r
    r.host.close()


def op(op_id: str, method: str = "GET", *, json_expected: bool = True) -> Operation:
    return Operation(
        op_id=op_id,
        method=method,
        path="/",
        read_only=method in ("GET", "HEAD", "OPTIONS"),
        response_schema={} if json_expected else None,
    )
