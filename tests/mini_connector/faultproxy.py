"""A TCP proxy for tests that can cut every connection or leave them half-open."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field


@dataclass
class _Link:
    writers: tuple[asyncio.StreamWriter, asyncio.StreamWriter]
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class FaultProxy:
    """Forwards 127.0.0.1:<port> to ``target_port``.

    ``drop()`` closes every live connection; ``freeze()`` stops moving bytes on every live
    connection but keeps the sockets open, which is what a dead NAT entry looks like.
    """

    def __init__(self, target_port: int) -> None:
        self._target = target_port
        self._links: list[_Link] = []
        self._frozen: list[_Link] = []
        self._server: asyncio.Server | None = None
        self.accepted = 0

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def __aenter__(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._links += self._frozen
        self.drop()
        assert self._server is not None
        self._server.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target)
        link = _Link((writer, up_writer))
        link.tasks = [
            asyncio.create_task(self._pipe(reader, up_writer)),
            asyncio.create_task(self._pipe(up_reader, writer)),
        ]
        self._links.append(link)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    def drop(self) -> None:
        for link in self._links:
            for task in link.tasks:
                task.cancel()
            for writer in link.writers:
                writer.transport.abort()
        self._links.clear()

    def freeze(self) -> None:
        """Stop forwarding on current connections without closing them (half-open)."""
        for link in self._links:
            for task in link.tasks:
                task.cancel()
        self._frozen += self._links  # keep the sockets referenced, and open
        self._links.clear()
