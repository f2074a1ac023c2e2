"""The transport group's baselines: raw TCP and plain ``websockets``, with and without TLS.

``python -m bench.transport_wire --cert C --key K`` is the server: one process of its own (as
the gateway is in production) listening on four loopback ports (raw, raw+TLS, ws, ws+TLS); it
prints them as one JSON line and serves until terminated. The client functions here run in the
bench's process. Each connection names its mode first:

- ``E`` echo: ``count`` messages of 1 KiB, each sent back as it arrives;
- ``S`` sink: ``count`` messages of 1 MiB; the server answers the byte total at the end;
- ``P`` pipelined: ``count`` messages of 64 bytes; the server counts them and answers the count.

On raw TCP a message is a fixed-size read (``readexactly``), so the receiver does per-message
work as a WebSocket receiver does; the header is the mode byte and the count (8 bytes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import struct
import sys
import time
from pathlib import Path

import websockets
from pydantic import BaseModel
from websockets.asyncio.server import ServerConnection

from bench.tunnel import Latency
from mini_connector.tunnel.mux import set_nodelay
from mini_connector.tunnel.protocol import DEFAULT_MAX_FRAME

ECHO_BYTES = 1024
BULK_BYTES = 1 << 20
SMALL_BYTES = 64
WARMUP = 10
_HEADER = struct.Struct(">cQ")
_TOTAL = struct.Struct(">Q")


class WireFigures(BaseModel):
    """One transport's three figures."""

    echo: Latency
    one_way_mib_s: float
    small_per_s: float


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """The server side as the gateway builds it (TLS 1.2 at least)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


def client_context(ca: Path) -> ssl.SSLContext:
    """A verifying client context that trusts ``ca`` only (hostname 127.0.0.1 is checked too)."""
    return ssl.create_default_context(cafile=str(ca))


async def _serve_raw(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    set_nodelay(writer)
    try:
        mode, count = _HEADER.unpack(await reader.readexactly(_HEADER.size))
        if mode == b"E":
            for _ in range(count):
                writer.write(await reader.readexactly(ECHO_BYTES))
                await writer.drain()
            return
        if mode == b"S":
            total, expected = 0, count * BULK_BYTES
            while total < expected:
                chunk = await reader.read(BULK_BYTES)
                if not chunk:
                    break
                total += len(chunk)
            writer.write(_TOTAL.pack(total))
        else:
            for _ in range(count):
                await reader.readexactly(SMALL_BYTES)
            writer.write(_TOTAL.pack(count))
        await writer.drain()
    except asyncio.IncompleteReadError:
        pass  # the client went away mid-run; its side reports the failure
    finally:
        writer.close()


async def _serve_ws(ws: ServerConnection) -> None:
    set_nodelay(ws.transport)
    start = json.loads(await ws.recv())
    mode, count = start["mode"], int(start["count"])
    if mode == "E":
        for _ in range(count):
            await ws.send(await ws.recv())
        return
    total = 0
    for _ in range(count):
        total += len(await ws.recv())
    await ws.send(str(total if mode == "S" else count))


async def serve(cert: Path, key: Path) -> None:
    """Listen on four free loopback ports, print them as JSON, serve until cancelled."""
    tls = server_context(cert, key)
    raw = await asyncio.start_server(_serve_raw, "127.0.0.1", 0)
    raw_tls = await asyncio.start_server(_serve_raw, "127.0.0.1", 0, ssl=tls)
    ws = await websockets.serve(_serve_ws, "127.0.0.1", 0, compression=None, max_size=DEFAULT_MAX_FRAME)
    ws_tls = await websockets.serve(
        _serve_ws, "127.0.0.1", 0, ssl=tls, compression=None, max_size=DEFAULT_MAX_FRAME
    )
    ports = {
        name: next(iter(server.sockets)).getsockname()[1]
        for name, server in (("raw", raw), ("raw_tls", raw_tls), ("ws", ws), ("ws_tls", ws_tls))
    }
    print(json.dumps(ports), flush=True)
    await asyncio.Event().wait()


async def raw_figures(port: int, *, tls: ssl.SSLContext | None, messages: int, megabytes: int) -> WireFigures:
    """Echo, sink and pipelined runs over raw TCP (``tls``: the client's verifying context)."""

    async def dial(mode: bytes, count: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=tls)
        set_nodelay(writer)
        writer.write(_HEADER.pack(mode, count))
        return reader, writer

    reader, writer = await dial(b"E", WARMUP + messages)
    message, samples = b"e" * ECHO_BYTES, []
    for _ in range(WARMUP + messages):
        started = time.perf_counter()
        writer.write(message)
        if await reader.readexactly(ECHO_BYTES) != message:
            raise RuntimeError("raw TCP echo came back different")
        samples.append(time.perf_counter() - started)
    writer.close()

    reader, writer = await dial(b"S", megabytes)
    bulk = bytes(BULK_BYTES)
    started = time.perf_counter()
    for _ in range(megabytes):
        writer.write(bulk)
        await writer.drain()
    _acknowledged(_TOTAL.unpack(await reader.readexactly(_TOTAL.size))[0], megabytes * BULK_BYTES)
    bulk_s = time.perf_counter() - started
    writer.close()

    count = messages * 10
    reader, writer = await dial(b"P", count)
    small = b"p" * SMALL_BYTES
    started = time.perf_counter()
    for i in range(count):
        writer.write(small)
        if i % 1024 == 0:  # flow control only: drain waits when the socket buffer is full
            await writer.drain()
    _acknowledged(_TOTAL.unpack(await reader.readexactly(_TOTAL.size))[0], count)
    small_s = time.perf_counter() - started
    writer.close()
    return WireFigures(
        echo=Latency.of(samples[WARMUP:]), one_way_mib_s=megabytes / bulk_s, small_per_s=count / small_s
    )


async def ws_figures(port: int, *, tls: ssl.SSLContext | None, messages: int, megabytes: int) -> WireFigures:
    """Echo, sink and pipelined runs over ``websockets`` with the tunnel's options."""
    url = f"{'wss' if tls else 'ws'}://127.0.0.1:{port}/"

    def dial() -> websockets.connect:
        return websockets.connect(url, ssl=tls, compression=None, max_size=DEFAULT_MAX_FRAME)

    async with dial() as ws:
        set_nodelay(ws.transport)
        await ws.send(json.dumps({"mode": "E", "count": WARMUP + messages}))
        message, samples = b"e" * ECHO_BYTES, []
        for _ in range(WARMUP + messages):
            started = time.perf_counter()
            await ws.send(message)
            if await ws.recv() != message:
                raise RuntimeError("websockets echo came back different")
            samples.append(time.perf_counter() - started)

    async with dial() as ws:
        set_nodelay(ws.transport)
        await ws.send(json.dumps({"mode": "S", "count": megabytes}))
        bulk = bytes(BULK_BYTES)
        started = time.perf_counter()
        for _ in range(megabytes):
            await ws.send(bulk)
        _acknowledged(int(await ws.recv()), megabytes * BULK_BYTES)
        bulk_s = time.perf_counter() - started

    count = messages * 10
    async with dial() as ws:
        set_nodelay(ws.transport)
        await ws.send(json.dumps({"mode": "P", "count": count}))
        small = b"p" * SMALL_BYTES
        started = time.perf_counter()
        for _ in range(count):
            await ws.send(small)  # returns at once unless the write buffer is over its high-water mark
        _acknowledged(int(await ws.recv()), count)
        small_s = time.perf_counter() - started
    return WireFigures(
        echo=Latency.of(samples[WARMUP:]), one_way_mib_s=megabytes / bulk_s, small_per_s=count / small_s
    )


def _acknowledged(got: int, expected: int) -> None:
    if got != expected:
        raise RuntimeError(f"the server acknowledged {got}, expected {expected}")


def main() -> None:
    """``python -m bench.transport_wire --cert C --key K``: the baselines' server process."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.transport_wire", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--cert", type=Path, required=True)
    parser.add_argument("--key", type=Path, required=True)
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.cert, args.key))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
