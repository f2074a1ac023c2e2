"""``vsc agents token | list | revoke`` against a SQLite metadata file, as an operator runs them."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import typer
import websockets
from typer.testing import CliRunner

from activities.metadata import make_engine, provision_tenant
from console_api.cli import app
from console_api.cli_agents import parse_ttl
from console_api.gateway import consume_enrollment_token
from console_api.gateway.agents import AgentIdentity, mark_online
from mini_connector.tunnel import CONNECT_PATH, InMemoryEd25519Signer
from mini_connector.tunnel.protocol import Hello

ROOT = Path(__file__).resolve().parents[2]


def vsc(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def store(tmp_path: Path) -> tuple[str, str]:
    url = f"sqlite:///{tmp_path / 'metadata.db'}"
    tenant = f"t{uuid.uuid4().hex[:10]}"
    engine = make_engine(url)
    provision_tenant(engine, tenant_id=tenant, name=tenant)
    engine.dispose()
    return url, tenant


def test_token_enrolls_once_then_list_shows_presence_then_revoke(store: tuple[str, str]) -> None:
    url, tenant = store
    code, out, err = vsc("agents", "token", "--tenant", tenant, "--agent", "edge-7", "--metadata-url", url)
    assert code == 0, out + err
    token = out.strip()
    assert len(token) >= 40 and "\n" not in token
    assert "vsc-agent enroll" in err and "edge-7" in err and token not in err

    code, out, _ = vsc("agents", "list", "--metadata-url", url)
    assert code == 0 and "no enrolled agents" in out

    engine = make_engine(url)
    signer = InMemoryEd25519Signer()
    consume_enrollment_token(
        engine, token=token, agent_id="edge-7", public_key=signer.public_key_b64(), host="box", version="9.9"
    )
    code, out, _ = vsc("agents", "list", "--tenant", tenant, "--metadata-url", url)
    assert code == 0 and "edge-7" in out and "offline" in out and "never" in out
    hello = Hello(
        tenant=tenant,
        agent_id="edge-7",
        version="9.9",
        host="box",
        endpoints=["erp", "dw"],
        ts=0,
        signature="c2ln",
    )
    mark_online(engine, AgentIdentity(tenant=tenant, agent_id="edge-7", group="edge-7"), hello)
    engine.dispose()
    code, out, _ = vsc("agents", "list", "--metadata-url", url)
    assert code == 0, out
    [row] = [line for line in out.splitlines() if "edge-7" in line]
    assert tenant in row and "online" in row and "9.9" in row and "box" in row and "erp, dw" in row
    assert "never" not in row

    code, out, _ = vsc("agents", "revoke", "--tenant", tenant, "--agent", "edge-7", "--metadata-url", url)
    assert code == 0 and "revoked agent 'edge-7'" in out
    code, out, _ = vsc("agents", "list", "--metadata-url", url)
    assert "revoked" in [line for line in out.splitlines() if "edge-7" in line][0]


def test_refusals_name_what_is_wrong(store: tuple[str, str]) -> None:
    url, tenant = store
    code, out, _ = vsc("agents", "revoke", "--tenant", tenant, "--agent", "ghost", "--metadata-url", url)
    assert code == 1 and f"tenant {tenant!r} has no enrolled agent 'ghost'" in out
    code, out, _ = vsc("agents", "token", "--tenant", "nosuch", "--agent", "a", "--metadata-url", url)
    assert code == 1 and "nosuch" in out
    code, out, err = vsc(
        "agents", "token", "--tenant", tenant, "--agent", "a", "--ttl", "soon", "--metadata-url", url
    )
    assert code == 2 and "'soon' is not a duration" in out + err


def test_parse_ttl() -> None:
    assert parse_ttl("90s") == timedelta(seconds=90)
    assert parse_ttl("30m") == timedelta(minutes=30)
    assert parse_ttl("1h") == timedelta(hours=1)
    assert parse_ttl("2d") == timedelta(days=2)
    for bad in ("0h", "1w", "h", "-1h"):
        with pytest.raises(typer.BadParameter):
            parse_ttl(bad)


async def test_vsc_gateway_serves_challenges_in_the_foreground(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "console_api.cli",
        "gateway",
        "--port",
        str(port),
        "--metadata-url",
        f"sqlite:///{tmp_path / 'metadata.db'}",
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "VSC_GATEWAY_GATEWAY_ID": "gw-cli"},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                async with websockets.connect(f"ws://127.0.0.1:{port}{CONNECT_PATH}") as ws:
                    challenge = json.loads(await ws.recv())
                break
            except OSError:
                await asyncio.sleep(0.1)
        else:
            raise AssertionError("vsc gateway never listened")
        assert challenge["type"] == "challenge" and challenge["gateway"] == "gw-cli"
    finally:
        proc.terminate()
        await proc.wait()


def test_token_with_group_and_list_shows_the_group(store: tuple[str, str]) -> None:
    url, tenant = store
    code, out, err = vsc(
        "agents", "token", "--tenant", tenant, "--agent", "edge-7", "--group", "vans", "--metadata-url", url
    )
    assert code == 0 and "in group 'vans'" in err, out + err
    engine = make_engine(url)
    consume_enrollment_token(
        engine,
        token=out.strip(),
        agent_id="edge-7",
        public_key=InMemoryEd25519Signer().public_key_b64(),
        host="box",
        version="9.9",
    )
    engine.dispose()
    code, out, _ = vsc("agents", "list", "--tenant", tenant, "--metadata-url", url)
    [row] = [line for line in out.splitlines() if "edge-7" in line]
    assert code == 0 and "vans" in row and "group" in out
    code, out, _ = vsc(
        "agents",
        "token",
        "--tenant",
        tenant,
        "--agent",
        "edge-8",
        "--group",
        "Not Valid",
        "--metadata-url",
        url,
    )
    assert code == 1 and "agent 'Not Valid' must be" in out
