"""The demo agent of ``vsc up``: enrolled through the real gateway, credentials in its vault."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from console_api.demo_agent import DEMO_AGENT, DEMO_TENANT, agent_env, agent_home, prepare_demo_agent
from mini_connector.settings import AgentSettings
from mini_connector.vault import Vault
from tests.console_api.gateway.conftest import GatewayRig


async def test_prepare_enrolls_once_and_stores_the_demo_credentials(tmp_path: Path, rig: GatewayRig) -> None:
    home = tmp_path / "stack"
    metadata_url = str(rig.engine.url)
    done = await asyncio.to_thread(
        prepare_demo_agent, home, gateway_url=rig.gateway.url, metadata_url=metadata_url
    )
    assert f"enrolled agent {DEMO_AGENT!r} of tenant {DEMO_TENANT!r}" in done
    vault = Vault.from_settings(AgentSettings(home=agent_home(home)))
    identity = vault.identity()
    assert identity is not None and (identity.tenant, identity.agent_id) == (DEMO_TENANT, DEMO_AGENT)
    assert identity.gateway_url == rig.gateway.url
    assert [c.name for c in vault.credentials()] == ["erp_mariadb", "erp_pg", "erp_sqlite", "local_dw"]
    assert [c.name for c in vault.credentials() if c.write] == ["local_dw"]
    assert not (home / "agent-connections.json").exists()

    again = await asyncio.to_thread(
        prepare_demo_agent, home, gateway_url=rig.gateway.url, metadata_url=metadata_url
    )
    assert again.startswith("agent already enrolled")
    assert vault.identity() == identity
    assert rig.actions(DEMO_TENANT).count("gateway.agent_enrolled") == 1


def test_agent_env_withholds_every_agent_setting_but_its_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VSC_AGENT_TEMPORAL__ADDRESS", "127.0.0.1:7233")
    monkeypatch.setenv("VSC_AGENT_CONNECTIONS_FILE", "/tmp/registry.json")
    env = agent_env(tmp_path)
    agent_vars = {k for k in env if k.startswith("VSC_AGENT_")}
    assert agent_vars == {"VSC_AGENT_HOME"}
    assert env["VSC_AGENT_HOME"] == str(tmp_path / "agent")
