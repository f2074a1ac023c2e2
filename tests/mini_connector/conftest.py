"""Fixtures for the agent: an isolated agent home, a CLI runner and a tiny real WebSocket gateway."""

from __future__ import annotations

import email.utils
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result
from websockets.http11 import Request, Response
from websockets.sync.server import ServerConnection, serve

from mini_connector.cli import app
from tests.console_api.gateway.conftest import rig  # noqa: F401 - the gateway rig is shared

PROXY_VARS = (
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "WSS_PROXY",
    "wss_proxy",
    "WS_PROXY",
    "ws_proxy",
    "SOCKS_PROXY",
    "socks_proxy",
)


@pytest.fixture
def agent_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "agent-home"
    monkeypatch.setenv("VSC_AGENT_HOME", str(home))
    monkeypatch.setenv("VSC_AGENT_MACHINE_ID", "machine-a")
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    return home


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input)


def all_output(result: Result) -> str:
    parts = [result.output]
    for attr in ("stdout", "stderr"):
        try:
            parts.append(getattr(result, attr))
        except ValueError:
            pass
    return "\n".join(parts)


@dataclass
class FakeGateway:
    """A real websockets server speaking just enough of agent protocol v1 for the CLI tests."""

    enroll_reply: dict[str, Any] | None = None
    challenge: dict[str, Any] | None = field(
        default_factory=lambda: {"type": "challenge", "nonce": "bm9uY2U=", "gateway": "gw-test"}
    )
    date_offset_s: float = 0.0
    received: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def handle(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else ""
        if path == "/agent/v1/enroll":
            self.received.append(json.loads(ws.recv(timeout=5)))
            if self.enroll_reply is not None:
                ws.send(json.dumps(self.enroll_reply))
        elif path == "/agent/v1/connect" and self.challenge is not None:
            ws.send(json.dumps(self.challenge))
            try:
                ws.recv(timeout=5)
            except Exception:
                pass

    def process_response(self, _ws: ServerConnection, _request: Request, response: Response) -> Response:
        del response.headers["Date"]
        response.headers["Date"] = email.utils.formatdate(time.time() + self.date_offset_s, usegmt=True)
        return response


@pytest.fixture
def gateway_factory() -> Iterator[Callable[..., FakeGateway]]:
    servers: list[Any] = []

    def start(*, ssl_context: Any = None, **settings: Any) -> FakeGateway:
        gw = FakeGateway(**settings)
        server = serve(
            gw.handle, "127.0.0.1", 0, ssl=ssl_context, process_response=gw.process_response, compression=None
        )
        port = server.socket.getsockname()[1]
        gw.url = f"{'wss' if ssl_context else 'ws'}://127.0.0.1:{port}"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return gw

    yield start
    for server in servers:
        server.shutdown()


@pytest.fixture
def gateway(gateway_factory: Callable[..., FakeGateway]) -> FakeGateway:
    return gateway_factory()
