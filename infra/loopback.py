"""An ASGI app served by uvicorn on a free loopback port, in a thread: for tests, the bench and the demo."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


@contextmanager
def serve(app: Any, *, port: int = 0, start_timeout_s: float = 20.0) -> Iterator[str]:
    """Run ``app`` on 127.0.0.1 (port 0: one the OS picks); yields its base URL and stops it on exit.

    Raises:
        RuntimeError: The server did not start within ``start_timeout_s``.
    """
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the loopback server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
