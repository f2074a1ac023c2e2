"""The gateway as its own process for the bench groups, and the agents it admits.

Shared by the tunnel and transport groups: both measure ``python -m console_api.gateway`` as it
runs in production, in a process of its own, so its event loop and memory are not the bench's.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import Engine

from activities.metadata import provision_tenant
from activities.settings import BufferConfig
from console_api.gateway import consume_enrollment_token, issue_enrollment_token
from mini_connector.tunnel import InMemoryEd25519Signer

_LISTENING = re.compile(r"gateway listening on (wss?://127\.0\.0\.1:\d+)")


def free_port() -> int:
    """A loopback port free at the time of asking (the child binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def enroll(engine: Engine, *, tenant: str, agent_ids: list[str]) -> list[InMemoryEd25519Signer]:
    """Provision ``tenant`` and enroll one identity per agent id; returns their signers in order."""
    provision_tenant(engine, tenant_id=tenant, name=tenant)
    signers = []
    for agent_id in agent_ids:
        signer = InMemoryEd25519Signer()
        token = issue_enrollment_token(engine, tenant_id=tenant, agent_id=agent_id)
        consume_enrollment_token(
            engine, token=token, agent_id=agent_id, public_key=signer.public_key_b64(), host="", version=""
        )
        signers.append(signer)
    return signers


def _env(
    *,
    home: Path,
    temporal_address: str,
    buffer: BufferConfig | None,
    payload_keyring_dir: Path | None,
    tls: tuple[Path, Path] | None,
) -> dict[str, str]:
    env = {
        **os.environ,
        "VSC_GATEWAY_HOST": "127.0.0.1",
        "VSC_GATEWAY_PORT": "0",
        "VSC_GATEWAY_GATEWAY_ID": "gw-bench",
        "VSC_GATEWAY_METADATA_URL": f"sqlite:///{home / 'metadata.db'}",
        "VSC_GATEWAY_TEMPORAL__ADDRESS": temporal_address,
    }
    if buffer is not None:
        # Absolute paths: relative ones would land in the bench's working directory.
        env["VSC_GATEWAY_BUFFER__DIRECTORY"] = str(buffer.directory.absolute())
        env["VSC_GATEWAY_BUFFER__KEYRING_DIR"] = str(buffer.keyring_dir.absolute())
        env["VSC_GATEWAY_BUFFER__MASTER_KEYFILE"] = str(buffer.master_keyfile.absolute())
    if payload_keyring_dir is not None:
        env["VSC_GATEWAY_PAYLOAD_KEYRING_DIR"] = str(payload_keyring_dir.absolute())
    if tls is not None:
        env["VSC_GATEWAY_TLS_CERT"], env["VSC_GATEWAY_TLS_KEY"] = (str(p) for p in tls)
    return env


@asynccontextmanager
async def gateway_process(
    *,
    home: Path,
    temporal_address: str,
    buffer: BufferConfig | None = None,
    payload_keyring_dir: Path | None = None,
    tls: tuple[Path, Path] | None = None,
    log_name: str = "gateway.log",
) -> AsyncIterator[tuple[str, int]]:
    """``python -m console_api.gateway`` on a loopback port it picks; yields its URL and pid.

    Args:
        home: Holds ``metadata.db`` (agents enrolled there are admitted) and the log.
        temporal_address: The gateway's upstream; only dialled when a tunnel stream opens.
        buffer: The cloud's buffer store and keyring the gateway serves to agents; ``None``: no buffer.
        payload_keyring_dir: The tenants' Temporal payload keys handed to agents; ``None``: none.
        tls: PEM certificate and key: the gateway serves ``wss://``; ``None``: ``ws://``.
        log_name: File under ``home`` that receives the gateway's output.
    """
    # Port 0 and the URL read from the log: ports picked here could collide between gateways
    # started side by side, and a probe could then find the other one listening.
    env = _env(
        home=home,
        temporal_address=temporal_address,
        buffer=buffer,
        payload_keyring_dir=payload_keyring_dir,
        tls=tls,
    )
    log_path = home / log_name
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "console_api.gateway", env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while (found := _LISTENING.search(log_path.read_text(errors="replace"))) is None:
            if proc.returncode is not None:
                # The bench's temporary home goes with the failure; keep the log's end in the error.
                tail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
                raise RuntimeError(f"the gateway exited with {proc.returncode}: {' | '.join(tail)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the gateway did not start listening within 60 s; see {log_path}")
            await asyncio.sleep(0.1)
        yield found.group(1), proc.pid
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
