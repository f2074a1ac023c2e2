"""Peer tools a user would pick instead of us, installed by the benchmark itself and run beside ours.

``prepare_peers`` makes each selected peer runnable before anything is timed: the venvs of
dlt, sling and Singer from the pinned files in this folder (:mod:`bench.peers.venvs`), and
pgloader from Debian. A peer that cannot be installed is returned as unavailable with the
reason; the runner reports it as "not installed" instead of failing the benchmark.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from rich.console import Console

from bench.peers import tools
from bench.peers.venvs import PeerUnavailable, ensure_pgloader, ensure_venv, venv_ready
from bench.systems import System, Target

PEERS = ("dlt", "sling", "pgloader", "singer")
DEFAULT_PEERS = ("dlt", "sling", "pgloader")
"""Singer is off by default: about 160 s per 1M-row table here, 25x the rest of a repetition."""
LABELS = {
    "dlt": "dlt 1.31 (ConnectorX, parquet, ADBC)",
    "sling": "sling 1.4.11 full-refresh",
    "pgloader": "pgloader 3.6 (batch rows 10000)",
    "singer": "Singer tap|target-postgres",
}
SCHEMAS = {
    "dlt": tools.DLT_SCHEMA,
    "sling": tools.SLING_SCHEMA,
    "pgloader": tools.PGLOADER_SCHEMA,
    "singer": tools.SINGER_SCHEMA,
}
_RUNS: dict[str, Callable[[Target], None]] = {
    "dlt": tools.dlt_copy,
    "sling": tools.sling_copy,
    "pgloader": tools.pgloader_copy,
    "singer": tools.singer_copy,
}


def _threaded(fn: Callable[[Target], None]) -> Callable[[Target], Awaitable[None]]:
    async def run(target: Target) -> None:
        await asyncio.to_thread(fn, target)

    return run


def peer_system(name: str) -> System:
    """The :class:`System` of peer ``name`` (assumes :func:`prepare_peers` made it runnable)."""
    return System(
        name=name,
        label=LABELS[name],
        run=_threaded(_RUNS[name]),
        in_process=False,
        own_ddl=True,
        dest_schema=SCHEMAS[name],
    )


def prepare_peers(
    names: tuple[str, ...], *, install: bool, log: Console
) -> tuple[list[System], dict[str, str]]:
    """Install what the selected peers need; returns the runnable ones and why the others are not.

    Args:
        names: Peers to prepare, from :data:`PEERS`.
        install: Whether missing venvs and packages may be installed (off for the smoke run).
        log: Where installation progress goes.
    """
    ready: list[System] = []
    missing: dict[str, str] = {}
    for name in names:
        try:
            if name == "pgloader":
                ensure_pgloader(log=log, install=install)
            elif install:
                ensure_venv(name, log=log)
            elif not venv_ready(name):
                raise PeerUnavailable(f"{name}: no venv at bench/.venvs/{name} and installing is off")
        except PeerUnavailable as exc:
            missing[name] = str(exc)
            log.log(f"peer {name} not installed: {exc}")
            continue
        ready.append(peer_system(name))
    return ready, missing
