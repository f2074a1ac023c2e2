"""Many TCP byte streams over one WebSocket, used the same way by the agent and the gateway.

Each stream has a bounded inbound queue. When a local reader is slow the queue fills, the
WebSocket read loop waits on it, and TCP flow control pushes back to the sender, so memory per
stream stays bounded. Outbound, ``websockets`` waits for its write buffer to drain before
accepting more. A stream closes in both directions at once: gRPC never half-closes.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from websockets.asyncio.connection import Connection
from websockets.exceptions import ConnectionClosed

from activities.errors import TunnelProtocolError
from mini_connector.tunnel.protocol import HEADER_SIZE, Kind, decode_frame, encode_frame

log = logging.getLogger("vsc.tunnel")

StreamPair = tuple[asyncio.StreamReader, asyncio.StreamWriter]
Opener = Callable[[int], Awaitable[StreamPair]]
MessageHandler = Callable[[int, bytes], Awaitable[None]]
"""Receives ``(request id, payload)`` of a REQUEST (gateway) or RESPONSE (agent) frame; must not block."""
DEFAULT_STREAM_BUFFER_FRAMES = 64
DEFAULT_MAX_STREAMS = 64
_READ_CHUNK = 256 * 1024


def set_nodelay(writer_or_transport: asyncio.StreamWriter | asyncio.BaseTransport | None) -> None:
    """Turn Nagle off on a TCP socket: gRPC sends many small frames and waits for answers."""
    if writer_or_transport is None:
        return
    sock = writer_or_transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@dataclass
class _Stream:
    inbound: asyncio.Queue[bytes | None]
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    writer: asyncio.StreamWriter | None = None


class Mux:
    """Multiplexer of one WebSocket session.

    Args:
        ws: The authenticated WebSocket.
        max_frame: Largest binary frame either side may send (header included).
        opener: Called on the gateway side for each OPEN frame to connect the stream locally;
            ``None`` on the agent side, which refuses OPEN frames.
        stream_buffer_frames: Inbound frames queued per stream before back-pressure applies.
        max_streams: Concurrent streams allowed; further OPENs are answered with CLOSE.
        on_request: Gateway side: handles REQUEST frames; ``None`` refuses them as a protocol error.
        on_response: Agent side: handles RESPONSE frames; ``None`` refuses them as a protocol error.
    """

    def __init__(
        self,
        ws: Connection,
        *,
        max_frame: int,
        opener: Opener | None = None,
        stream_buffer_frames: int = DEFAULT_STREAM_BUFFER_FRAMES,
        max_streams: int = DEFAULT_MAX_STREAMS,
        on_request: MessageHandler | None = None,
        on_response: MessageHandler | None = None,
    ) -> None:
        self._ws = ws
        self._chunk = min(_READ_CHUNK, max_frame - HEADER_SIZE)
        self._opener = opener
        self._buffer_frames = stream_buffer_frames
        self._max_streams = max_streams
        self._streams: dict[int, _Stream] = {}
        self._next_id = 1
        self._handlers = {Kind.REQUEST: on_request, Kind.RESPONSE: on_response}

    @property
    def stream_count(self) -> int:
        """Streams currently open."""
        return len(self._streams)

    async def attach(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Agent side: carry one accepted local TCP connection as a new stream."""
        stream_id = self._next_id
        self._next_id += 1
        stream = self._new_stream(stream_id)
        await self._ws.send(encode_frame(Kind.OPEN, stream_id))
        self._start(stream_id, stream, reader, writer)

    async def send_message(self, kind: Kind, request_id: int, payload: bytes) -> None:
        """Send one REQUEST or RESPONSE frame (raises ``ConnectionClosed`` if the session is gone)."""
        await self._ws.send(encode_frame(kind, request_id, payload))

    async def run(self) -> None:
        """Dispatch inbound frames until the WebSocket closes; then close every stream.

        Raises:
            TunnelProtocolError: The peer sent a text frame or a malformed binary frame.
        """
        try:
            async for message in self._ws:
                if isinstance(message, str):
                    raise TunnelProtocolError("text frame inside a tunnel session")
                await self._dispatch(message)
        except ConnectionClosed:
            pass
        finally:
            for stream_id in list(self._streams):
                self._drop(stream_id)

    async def _dispatch(self, data: bytes) -> None:
        frame = decode_frame(data)
        if frame.kind in self._handlers:
            handler = self._handlers[frame.kind]
            if handler is None:
                raise TunnelProtocolError(f"{frame.kind.name} frames are not accepted here", kind=frame.kind)
            await handler(frame.stream, frame.payload)
            return
        stream = self._streams.get(frame.stream)
        if frame.kind is Kind.OPEN:
            await self._open(frame.stream)
        elif frame.kind is Kind.DATA:
            if frame.payload and stream is not None:
                await stream.inbound.put(frame.payload)
        elif stream is not None:
            await stream.inbound.put(None)

    async def _open(self, stream_id: int) -> None:
        if self._opener is None:
            raise TunnelProtocolError("OPEN frames are only accepted by the gateway", stream=stream_id)
        if stream_id in self._streams:
            raise TunnelProtocolError(f"stream {stream_id} is already open", stream=stream_id)
        if len(self._streams) >= self._max_streams:
            await self._send_close(stream_id, "too many streams")
            return
        stream = self._new_stream(stream_id)
        stream.tasks.append(asyncio.create_task(self._connect(stream_id, stream, self._opener)))

    async def _connect(self, stream_id: int, stream: _Stream, opener: Opener) -> None:
        try:
            reader, writer = await opener(stream_id)
        except OSError as exc:
            log.warning("stream %d: local connect failed: %s", stream_id, exc)
            self._drop(stream_id)
            await self._send_close(stream_id, "upstream unavailable")
            return
        self._start(stream_id, stream, reader, writer)

    def _new_stream(self, stream_id: int) -> _Stream:
        stream = _Stream(inbound=asyncio.Queue(maxsize=self._buffer_frames))
        self._streams[stream_id] = stream
        return stream

    def _start(
        self, stream_id: int, stream: _Stream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        set_nodelay(writer)
        stream.writer = writer
        stream.tasks.append(asyncio.create_task(self._pump_out(stream_id, reader)))
        stream.tasks.append(asyncio.create_task(self._pump_in(stream_id, stream.inbound, writer)))

    async def _pump_out(self, stream_id: int, reader: asyncio.StreamReader) -> None:
        """Local socket -> WebSocket."""
        try:
            while chunk := await reader.read(self._chunk):
                await self._ws.send(encode_frame(Kind.DATA, stream_id, chunk))
        except (OSError, ConnectionClosed):
            pass
        self._drop(stream_id)
        await self._send_close(stream_id, "")

    async def _pump_in(
        self, stream_id: int, inbound: asyncio.Queue[bytes | None], w: asyncio.StreamWriter
    ) -> None:
        """WebSocket -> local socket, one queued frame at a time."""
        try:
            while (payload := await inbound.get()) is not None:
                w.write(payload)
                await w.drain()
        except OSError:
            pass
        self._drop(stream_id)

    async def _send_close(self, stream_id: int, reason: str) -> None:
        try:
            await self._ws.send(encode_frame(Kind.CLOSE, stream_id, reason.encode()))
        except ConnectionClosed:
            pass

    def _drop(self, stream_id: int) -> None:
        stream = self._streams.pop(stream_id, None)
        if stream is None:
            return
        current = asyncio.current_task()
        for task in stream.tasks:
            if task is not current:
                task.cancel()
        if stream.writer is not None:
            stream.writer.close()
        # Unblock a read loop waiting to queue into this dead stream.
        while not stream.inbound.empty():
            stream.inbound.get_nowait()
