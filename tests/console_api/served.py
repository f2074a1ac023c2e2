"""The console API served over real HTTP on a loopback port, and ``vsc`` run against it as a user would."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run ``app`` with uvicorn on a free loopback port; yields its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


ROOT = Path(__file__).resolve().parents[2]


async def run_vsc(
    *args: str, home: Path | None = None, url: str | None = None, key: str | None = None, stdin: str = ""
) -> tuple[int, str, str]:
    """``vsc ARGS`` in its own process (against the API at ``url``): (exit code, stdout, stderr)."""
    env = {"PYTHONPATH": str(ROOT), "COLUMNS": "250", "PATH": "/usr/bin:/bin"}
    if home is not None:
        env["VSC_HOME"] = str(home)
    if url is not None:
        env["VSC_API_URL"] = url
    if key:
        env["VSC_API_KEY"] = key
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "console_api.cli",
        *args,
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await proc.communicate(stdin.encode())
    return proc.returncode or 0, out.decode(), err.decode()
