from __future__ import annotations

import http.server
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from mini_connector.enroll import REFUSALS
from mini_connector.settings import AgentSettings
from mini_connector.vault import Vault
from tests.mini_connector.conftest import FakeGateway, all_output, run

TOKEN = "one-time-TOKEN-c0ffee"


def enroll(gateway_url: str, *extra: str) -> tuple[int, str]:
    result = run("enroll", "--gateway", gateway_url, "--token", TOKEN, "--agent-id", "edge-1", *extra)
    text = all_output(result)
    assert TOKEN not in text
    return result.exit_code, text


def stored_identity():
    return Vault.from_settings(AgentSettings()).identity()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_enroll_success_stores_the_identity(
    agent_home: Path, gateway_factory: Callable[..., FakeGateway]
) -> None:
    gw = gateway_factory(enroll_reply={"type": "enrolled", "tenant": "acme", "agent_id": "edge-1"})
    code, text = enroll(gw.url)
    assert code == 0, text
    [sent] = gw.received
    assert sent["type"] == "enroll" and sent["token"] == TOKEN and sent["agent_id"] == "edge-1"
    assert set(sent) == {"type", "token", "agent_id", "public_key", "host", "version"}
    identity = stored_identity()
    assert identity is not None and (identity.tenant, identity.agent_id) == ("acme", "edge-1")
    assert identity.gateway_url == gw.url
    assert identity.key().public_key_b64() == sent["public_key"]
    assert sent["public_key"] in text and identity.private_key.get_secret_value() not in text
    assert TOKEN.encode() not in (agent_home / "agent.vault").read_bytes()

    again_code, again = enroll(gw.url)
    assert again_code == 1 and "already enrolled as 'edge-1'" in again
    forced_code, _ = enroll(gw.url, "--force")
    assert forced_code == 0 and stored_identity().key().public_key_b64() == gw.received[-1]["public_key"]


@pytest.mark.parametrize("code", sorted(REFUSALS))
def test_each_refusal_code_is_explained(
    agent_home: Path, gateway_factory: Callable[..., FakeGateway], code: str
) -> None:
    gw = gateway_factory(enroll_reply={"type": "error", "code": code, "detail": "see audit"})
    exit_code, text = enroll(gw.url)
    assert exit_code == 1
    assert REFUSALS[code] in text and "[see audit]" in text
    assert stored_identity() is None


def test_unknown_code_and_garbage_replies(
    agent_home: Path, gateway_factory: Callable[..., FakeGateway]
) -> None:
    odd = gateway_factory(enroll_reply={"type": "error", "code": "rate_limited"})
    code, text = enroll(odd.url)
    assert code == 1 and "code 'rate_limited'" in text
    wrong_agent = gateway_factory(enroll_reply={"type": "enrolled", "tenant": "acme", "agent_id": "edge-2"})
    code, text = enroll(wrong_agent.url)
    assert code == 1 and "did not confirm the enrollment of agent 'edge-1'" in text
    silent = gateway_factory(enroll_reply=None)  # closes without replying
    code, text = enroll(silent.url)
    assert code == 1 and "closed the connection before replying" in text
    assert stored_identity() is None


def test_wrong_gateway_urls_have_clear_messages(agent_home: Path) -> None:
    port = closed_port()
    code, text = enroll(f"ws://127.0.0.1:{port}")
    assert code == 1 and f"127.0.0.1:{port} refused the connection" in text
    code, text = enroll("wss://gateway.invalid")
    assert code == 1 and "cannot resolve gateway host 'gateway.invalid'" in text
    code, text = enroll("ws://gateway.example.com")
    assert code == 1 and "plain ws:// is allowed only to a loopback address" in text
    code, text = enroll("https://gateway.example.com")
    assert code == 1 and "must look like wss://" in text


def test_silent_listener_times_out(agent_home: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        code, text = enroll(f"ws://127.0.0.1:{listener.getsockname()[1]}", "--timeout", "0.5")
    assert code == 1 and "did not answer in time" in text


class NotFound(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_http_server_that_is_not_a_gateway(agent_home: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        code, text = enroll(f"ws://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
    assert code == 1 and "answered HTTP 404 instead of a WebSocket upgrade" in text


@pytest.fixture
def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def test_untrusted_certificate_is_refused_and_a_trusted_ca_accepted(
    agent_home: Path,
    gateway_factory: Callable[..., FakeGateway],
    self_signed: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cert, key = self_signed
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    gw = gateway_factory(
        ssl_context=context, enroll_reply={"type": "enrolled", "tenant": "acme", "agent_id": "edge-1"}
    )
    code, text = enroll(gw.url)
    assert code == 1 and "TLS certificate that does not verify" in text
    assert gw.received == [] and stored_identity() is None
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # how docs/agent.md says to trust a private CA
    code, text = enroll(gw.url)
    assert code == 0, text
    assert stored_identity() is not None
