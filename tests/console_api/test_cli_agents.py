"""``vsc agents token | list | revoke`` through the console API, as a tenant admin runs them."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import typer
import websockets

from console_api.cli_agents import parse_ttl
from console_api.gateway import consume_enrollment_token
from console_api.gateway.agents import AgentIdentity, mark_online
from mini_connector.tunnel import CONNECT_PATH, InMemoryEd25519Signer
from mini_connector.tunnel.protocol import Hello
from tests.console_api.api.conftest import Api, MakeApi
from tests.console_api.served import ROOT, run_vsc, serve


@pytest.fixture
async def api(make_api: MakeApi) -> Api:
    return await make_api()


async def test_token_enrolls_once_then_list_shows_presence_then_revoke(api: Api, tmp_path: Path) -> None:
    tenant = api.admin.tenant
    with serve(api.app) as url:

        async def vsc(*args: str, key: str = api.admin.key) -> tuple[int, str, str]:
            return await run_vsc(*args, home=tmp_path, url=url, key=key)

        code, out, err = await vsc("agents", "token", "--agent", "edge-7")
        assert code == 0, out + err
        token = out.strip()
        assert len(token) >= 40 and "\n" not in token
        assert "vsc-agent enroll" in err and "edge-7" in err and token not in err

        code, out, _ = await vsc("agents", "list")
        assert code == 0 and "no enrolled agents" in out

        signer = InMemoryEd25519Signer()
        consume_enrollment_token(
            api.engine,
            token=token,
            agent_id="edge-7",
            public_key=signer.public_key_b64(),
            host="box",
            version="9.9",
        )
        code, out, _ = await vsc("agents", "list")
        [row] = [line for line in out.splitlines() if "edge-7" in line]
        assert code == 0 and "offline" in row
        hello = Hello(
            tenant=tenant,
            agent_id="edge-7",
            version="9.9",
            host="box",
            endpoints=["erp", "dw"],
            ts=0,
            signature="c2ln",
        )
        mark_online(api.engine, AgentIdentity(tenant=tenant, agent_id="edge-7", group="edge-7"), hello)
        code, out, _ = await vsc("agents", "list", "--json")
        [agent] = json.loads(out)["data"]
        assert agent["state"] == "online" and agent["online"] is True
        assert (agent["version"], agent["host"], agent["endpoints"]) == ("9.9", "box", ["erp", "dw"])

        # Another tenant's admin sees none of it and cannot revoke it.
        code, out, _ = await vsc("agents", "list", key=api.other.key)
        assert code == 0 and "no enrolled agents" in out
        code, out, _ = await vsc("agents", "revoke", "--agent", "edge-7", key=api.other.key)
        assert code == 1 and "has no enrolled agent 'edge-7'" in out

        code, out, _ = await vsc("agents", "revoke", "--agent", "edge-7")
        assert code == 0 and "revoked agent 'edge-7'" in out
        code, out, _ = await vsc("agents", "list", "--json")
        assert json.loads(out)["data"][0]["state"] == "revoked"


async def test_refusals_name_what_is_wrong(api: Api, tmp_path: Path) -> None:
    with serve(api.app) as url:
        code, out, _ = await run_vsc(
            "agents", "revoke", "--agent", "ghost", home=tmp_path, url=url, key=api.admin.key
        )
        assert code == 1 and "has no enrolled agent 'ghost'" in out
        code, out, err = await run_vsc(
            "agents", "token", "--agent", "a", "--ttl", "soon", home=tmp_path, url=url, key=api.admin.key
        )
        assert code == 2 and "'soon' is not a duration" in out + err
        code, out, _ = await run_vsc(
            "agents", "token", "--agent", "a", home=tmp_path, url=url, key=api.viewer.key
        )
        assert code == 1 and "403" in out and "admin role" in out
        code, out, _ = await run_vsc(
            "agents", "token", "--agent", "Not Valid", home=tmp_path, url=url, key=api.admin.key
        )
        assert code == 1 and "422" in out and "agent_id" in out


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


async def test_token_with_group_and_list_shows_the_group(api: Api, tmp_path: Path) -> None:
    with serve(api.app) as url:
        code, out, err = await run_vsc(
            "agents",
            "token",
            "--agent",
            "edge-7",
            "--group",
            "vans",
            home=tmp_path,
            url=url,
            key=api.admin.key,
        )
        assert code == 0 and "in group 'vans'" in err, out + err
        consume_enrollment_token(
            api.engine,
            token=out.strip(),
            agent_id="edge-7",
            public_key=InMemoryEd25519Signer().public_key_b64(),
            host="box",
            version="9.9",
        )
        code, out, _ = await run_vsc("agents", "list", home=tmp_path, url=url, key=api.admin.key)
    [row] = [line for line in out.splitlines() if "edge-7" in line]
    assert code == 0 and "vans" in row and "group" in out
