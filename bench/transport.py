"""The transport group of ``make bench``: what our WebSocket tunnel carries, against its own wire.

Six rows, one run, TLS off and on for each transport (the TLS certificate is self-signed for
127.0.0.1 and verified by every client as its only CA):

- raw TCP and plain ``websockets`` (compression off, the tunnel's ``max_size``, TCP_NODELAY)
  against a server process of their own (:mod:`bench.transport_wire`): 1 KiB echo round trip
  p50/p99, 1 MiB messages one way (the server acknowledges the total at the end), and 64-byte
  messages pipelined (the sender never waits, the receiver counts them);
- our tunnel: the real gateway process with a buffer, one enrolled agent's ``TunnelClient``.
  One way is uploading buffer objects through :class:`~mini_connector.gateway_buffer.GatewayBackend`,
  the agent's own code path (parts of one frame, each acknowledged before the next); back is
  downloading them with ``obj.get``, and the bytes read back must hash as the bytes written.
  The round trip is a 1 KiB ``obj.get``, which includes the gateway's authorization of the key
  and a file read; the small-message rate is 64-byte ``obj.get`` requests kept
  :data:`~console_api.gateway.session.MAX_PENDING_REQUESTS` in flight (the session's limit).

``python -m bench.transport`` runs this group alone.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from activities.metadata import make_engine
from activities.settings import BufferConfig
from bench.gateway import enroll, free_port, gateway_process
from bench.transport_wire import (
    ECHO_BYTES,
    SMALL_BYTES,
    WARMUP,
    client_context,
    raw_figures,
    ws_figures,
)
from bench.tunnel import Latency
from console_api.gateway.session import MAX_PENDING_REQUESTS
from infra.loopback_tls import self_signed
from mini_connector.gateway_buffer import GatewayBackend, GatewayChannel
from mini_connector.tunnel import Backoff, InMemoryEd25519Signer, TunnelClient, TunnelOptions
from mini_connector.tunnel.rpc import Request, raise_for

Transport = Literal["raw TCP", "websockets", "tunnel"]
TRANSPORTS: tuple[Transport, ...] = ("raw TCP", "websockets", "tunnel")
OBJECT_BYTES = 4 << 20
"""Size of one uploaded buffer object; several frames each, as the agent's chunks are."""
TENANT = "bench_transport"
_GATEWAYS = ("ws", "wss")


class CorruptionError(RuntimeError):
    """The bytes read back through the tunnel differ from the bytes written."""


class TransportRow(BaseModel):
    """One transport with TLS off or on."""

    transport: Transport
    tls: bool
    echo: Latency
    one_way_mib_s: float
    """Raw and websockets: 1 MiB messages to a sink. Tunnel: buffer objects uploaded."""
    small_per_s: float
    """Raw and websockets: pipelined 64-byte messages. Tunnel: 64-byte ``obj.get`` requests."""
    back_mib_s: float | None = None
    """Tunnel only: the same objects downloaded."""


class TransportReport(BaseModel):
    """Every row of the transport group, measured in one run."""

    messages: int
    megabytes: int
    rows: list[TransportRow]

    def row(self, transport: Transport, *, tls: bool) -> TransportRow:
        """The row of ``transport`` with TLS ``tls``."""
        return next(r for r in self.rows if (r.transport, r.tls) == (transport, tls))

    def tunnel_ratios(self, *, tls: bool) -> dict[str, float]:
        """The tunnel's figures over plain websockets' with the same TLS setting (> 1: tunnel larger)."""
        t, w = self.row("tunnel", tls=tls), self.row("websockets", tls=tls)
        return {
            "echo_p50": t.echo.p50_ms / w.echo.p50_ms,
            "echo_p99": t.echo.p99_ms / w.echo.p99_ms,
            "one_way": t.one_way_mib_s / w.one_way_mib_s,
            "small": t.small_per_s / w.small_per_s,
        }


def check_same(written: Iterable[bytes], read: Iterable[bytes], *, what: str) -> None:
    """Compare two byte sequences by SHA-256 of their concatenation.

    Raises:
        CorruptionError: They differ (content, order or length).
    """
    sent, got = hashlib.sha256(), hashlib.sha256()
    for part in written:
        sent.update(part)
    for part in read:
        got.update(part)
    if sent.digest() != got.digest():
        raise CorruptionError(
            f"{what}: sha256 {got.hexdigest()[:16]} read back, {sent.hexdigest()[:16]} written"
        )


@asynccontextmanager
async def wire_server(*, cert: Path, key: Path) -> AsyncIterator[dict[str, int]]:
    """``python -m bench.transport_wire`` as a child process; yields its ports by name."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.transport_wire", "--cert", str(cert), "--key", str(key),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if not line:
            raise RuntimeError(f"the transport server exited with {await proc.wait()}")
        yield {str(k): int(v) for k, v in json.loads(line).items()}
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()


async def _tunnel_row(
    url: str, *, agent_id: str, signer: InMemoryEd25519Signer, ca: Path | None, messages: int, megabytes: int
) -> TransportRow:
    options = TunnelOptions(
        gateway_url=url,
        tenant=TENANT,
        agent_id=agent_id,
        ssl_context=None if ca is None else client_context(ca),
        backoff=Backoff(cap_seconds=1.0),
    )
    async with TunnelClient(options, signer) as tunnel:
        await asyncio.wait_for(tunnel.wait_connected_or_refused(), 60)
        backend = GatewayBackend(GatewayChannel(tunnel, asyncio.get_running_loop()), tenant=TENANT)
        prefix = f"{TENANT}/transport-{agent_id}"
        total = megabytes << 20
        data = os.urandom(total)
        objects = {f"{prefix}/{i}": data[i : i + OBJECT_BYTES] for i in range(0, total, OBJECT_BYTES)}

        def upload() -> None:
            for object_key, body in objects.items():
                backend.put(object_key, body)

        def download() -> list[bytes]:
            return [backend.get(object_key) for object_key in objects]

        started = time.perf_counter()
        await asyncio.to_thread(upload)
        up_s = time.perf_counter() - started
        started = time.perf_counter()
        read = await asyncio.to_thread(download)
        down_s = time.perf_counter() - started
        check_same(objects.values(), read, what=f"{megabytes} MiB through {url}")

        echo_key, small_key = f"{prefix}/echo", f"{prefix}/small"
        echo_body, small_body = os.urandom(ECHO_BYTES), os.urandom(SMALL_BYTES)
        await asyncio.to_thread(backend.put, echo_key, echo_body)
        await asyncio.to_thread(backend.put, small_key, small_body)

        async def get(object_key: str, expected: bytes) -> None:
            response, body = await tunnel.request(Request(op="obj.get", tenant=TENANT, key=object_key))
            raise_for(response)
            check_same([expected], [body], what=f"obj.get {object_key}")

        samples = []
        for _ in range(WARMUP + messages):
            started = time.perf_counter()
            await get(echo_key, echo_body)
            samples.append(time.perf_counter() - started)

        window = asyncio.Semaphore(MAX_PENDING_REQUESTS)

        async def windowed() -> None:
            async with window:
                await get(small_key, small_body)

        count = messages * 10
        started = time.perf_counter()
        await asyncio.gather(*(windowed() for _ in range(count)))
        small_s = time.perf_counter() - started
        for object_key in [*objects, echo_key, small_key]:  # the tenant's buffer quota counts them
            await asyncio.to_thread(backend.delete, object_key)
    return TransportRow(
        transport="tunnel",
        tls=ca is not None,
        echo=Latency.of(samples[WARMUP:]),
        one_way_mib_s=megabytes / up_s,
        back_mib_s=megabytes / down_s,
        small_per_s=count / small_s,
    )


def _enrolled(home: Path, *, agent_id: str) -> InMemoryEd25519Signer:
    """One agent enrolled in a metadata database of its gateway's own.

    Two gateways starting at once on one SQLite file both provision the platform tenant, and
    one of them can exit with an ``OperationalError`` from the tenant registry (1 start in 8
    here); one database each avoids that.
    """
    home.mkdir()
    engine = make_engine(f"sqlite:///{home / 'metadata.db'}")
    try:
        [signer] = enroll(engine, tenant=TENANT, agent_ids=[agent_id])
    finally:
        engine.dispose()
    return signer


async def run_transport_bench(*, messages: int, megabytes: int) -> TransportReport:
    """Start the baselines' server and two gateways (ws, wss), measure every row, stop them.

    No Temporal server is needed: the gateway dials its upstream only when a tunnel stream
    opens, and this group sends buffer requests only; the address it gets is a free loopback port.

    Args:
        messages: Echo round trips per row (after warm-up); ten times as many small messages.
        megabytes: MiB sent one way per row (1 MiB messages; 4 MiB buffer objects through the tunnel).
    """
    rows: list[TransportRow] = []
    with tempfile.TemporaryDirectory(prefix="vsc-bench-transport-") as tmp:
        home = Path(tmp)
        cert, key = self_signed(home)
        signers = [
            await asyncio.to_thread(_enrolled, home / name, agent_id=f"edge-{name}") for name in _GATEWAYS
        ]
        upstream = f"127.0.0.1:{free_port()}"
        async with AsyncExitStack() as stack:
            # Started side by side (a TaskGroup stops the others if one fails); measured one at a time.
            try:
                async with asyncio.TaskGroup() as group:
                    wire = group.create_task(stack.enter_async_context(wire_server(cert=cert, key=key)))
                    started = [
                        group.create_task(
                            stack.enter_async_context(
                                gateway_process(
                                    home=home / name,
                                    temporal_address=upstream,
                                    buffer=BufferConfig(
                                        directory=home / name / "objects",
                                        keyring_dir=home / name / "keys",
                                        master_keyfile=home / name / "master.key",
                                    ),
                                    tls=tls,
                                )
                            )
                        )
                        for name, tls in zip(_GATEWAYS, (None, (cert, key)), strict=True)
                    ]
            except ExceptionGroup as failed:  # report what failed, not the group around it
                raise failed.exceptions[0] from None
            ports, gateways = wire.result(), [task.result() for task in started]
            for tls in (False, True):
                context = client_context(cert) if tls else None
                suffix = "_tls" if tls else ""
                raw = await raw_figures(
                    ports[f"raw{suffix}"], tls=context, messages=messages, megabytes=megabytes
                )
                rows.append(TransportRow(transport="raw TCP", tls=tls, **raw.model_dump()))
                ws = await ws_figures(
                    ports[f"ws{suffix}"], tls=context, messages=messages, megabytes=megabytes
                )
                rows.append(TransportRow(transport="websockets", tls=tls, **ws.model_dump()))
            for (url, _), agent_id, signer, ca in zip(
                gateways, [f"edge-{name}" for name in _GATEWAYS], signers, (None, cert), strict=True
            ):
                rows.append(
                    await _tunnel_row(
                        url, agent_id=agent_id, signer=signer, ca=ca, messages=messages, megabytes=megabytes
                    )
                )
    return TransportReport(messages=messages, megabytes=megabytes, rows=rows)


def main() -> None:
    """``python -m bench.transport``: run the transport group alone and print its table."""
    from rich.console import Console

    from bench.transport_report import print_transport

    parser = argparse.ArgumentParser(prog="python -m bench.transport", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000, help="echo round trips per row (default 2000)")
    parser.add_argument("--megabytes", type=int, default=256, help="MiB one way per row (default 256)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    report = asyncio.run(run_transport_bench(messages=args.messages, megabytes=args.megabytes))
    print_transport(Console(), report)
    if args.json is not None:
        args.json.write_text(report.model_dump_json(indent=2) + "\n")


if __name__ == "__main__":
    main()
