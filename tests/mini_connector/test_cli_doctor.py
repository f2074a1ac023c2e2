from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from mini_connector.identity import AgentIdentity, AgentKey
from mini_connector.settings import AgentSettings
from mini_connector.vault import Vault
from tests.mini_connector.conftest import FakeGateway, all_output, run


def enrolled_vault(gateway_url: str) -> Vault:
    vault = Vault.from_settings(AgentSettings())
    vault.init()
    vault.set_identity(
        AgentIdentity.create(
            key=AgentKey.generate(), tenant="acme", agent_id="edge-1", gateway_url=gateway_url
        )
    )
    return vault


def lines_by_check(output: str) -> dict[str, str]:
    return {line[5:].split(":", 1)[0]: line[:4].strip() for line in output.splitlines() if line[:4].strip()}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_doctor_with_a_reachable_gateway(agent_home: Path, gateway: FakeGateway) -> None:
    enrolled_vault(gateway.url)
    result = run("doctor")
    assert result.exit_code == 0, all_output(result)
    checks = lines_by_check(result.output)
    assert checks == {
        "vault": "OK",
        "identity": "OK",
        "gateway tcp": "OK",
        "gateway websocket": "OK",
        "clock": "OK",
    }, result.output


def test_doctor_with_an_unreachable_gateway(agent_home: Path) -> None:
    port = closed_port()
    enrolled_vault(f"ws://127.0.0.1:{port}")
    result = run("doctor")
    assert result.exit_code == 1
    assert f"FAIL gateway tcp: gateway 127.0.0.1:{port} refused the connection" in result.output


def test_doctor_fails_on_clock_skew_beyond_the_gateway_window(
    agent_home: Path, gateway_factory: Callable[..., FakeGateway]
) -> None:
    enrolled_vault(gateway_factory(date_offset_s=600).url)
    result = run("doctor")
    assert result.exit_code == 1
    assert lines_by_check(result.output)["clock"] == "FAIL"
    assert re.search(r"local clock is -(599|600|601) s off", result.output)  # Date has 1 s resolution


def test_doctor_warns_on_moderate_skew(agent_home: Path, gateway_factory: Callable[..., FakeGateway]) -> None:
    enrolled_vault(gateway_factory(date_offset_s=-30).url)
    result = run("doctor")
    assert result.exit_code == 0, result.output
    assert lines_by_check(result.output)["clock"] == "WARN"


def test_doctor_fails_when_the_peer_sends_no_challenge(
    agent_home: Path, gateway_factory: Callable[..., FakeGateway]
) -> None:
    enrolled_vault(gateway_factory(challenge={"type": "welcome"}).url)
    result = run("doctor")
    assert result.exit_code == 1
    assert "FAIL gateway websocket" in result.output and "did not send a challenge" in result.output


def test_doctor_fails_on_a_vault_from_another_machine(
    agent_home: Path, gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    enrolled_vault(gateway.url)
    monkeypatch.setenv("VSC_AGENT_MACHINE_ID", "machine-b")
    result = run("doctor", "--gateway", gateway.url)
    assert result.exit_code == 1
    assert "FAIL vault" in result.output and "another machine" in result.output
    assert lines_by_check(result.output)["gateway websocket"] == "OK"


def test_doctor_checks_credentials_and_permissions(agent_home: Path, gateway: FakeGateway) -> None:
    vault = enrolled_vault(gateway.url)
    db = agent_home / "local.db"
    run("credentials", "add", "local", "--kind", "sqlite", "--stdin", input=f"sqlite:///{db}\n")
    os.chmod(vault.secret_path, 0o644)
    result = run("doctor")
    assert result.exit_code == 0, result.output
    checks = lines_by_check(result.output)
    assert checks["vault permissions"] == "WARN" and "agent.secret has mode 0644" in result.output
    assert checks["credential local"] == "OK" and checks["credential local privileges"] == "WARN"


def test_vault_export_import_via_cli_onto_another_machine(
    agent_home: Path, gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    enrolled_vault(gateway.url)
    run("credentials", "add", "erp", "--kind", "postgresql", "--stdin", input="postgresql://r:Pw-xyz@h/erp\n")
    monkeypatch.setenv("BACKUP_PW", "a long passphrase")
    backup = tmp_path / "agent.backup"
    exported = run("vault", "export", "--out", str(backup), "--passphrase-env", "BACKUP_PW")
    assert exported.exit_code == 0, all_output(exported)
    assert oct(backup.stat().st_mode & 0o777) == "0o600" and b"Pw-xyz" not in backup.read_bytes()

    monkeypatch.setenv("VSC_AGENT_HOME", str(tmp_path / "second-machine"))
    monkeypatch.setenv("VSC_AGENT_MACHINE_ID", "machine-b")
    wrong = run("vault", "import", str(backup), input="not it\n")
    assert wrong.exit_code == 1 and "wrong passphrase" in all_output(wrong)
    restored = run("vault", "import", str(backup), "--passphrase-env", "BACKUP_PW")
    assert restored.exit_code == 0, all_output(restored)
    assert "agent 'edge-1', 1 credentials" in restored.output
    assert "postgresql://r:***@h/erp" in run("credentials", "list").output
    again = run("vault", "import", str(backup), "--passphrase-env", "BACKUP_PW")
    assert again.exit_code == 1 and "--force" in all_output(again)
    status = run("status")
    assert status.exit_code == 0 and "agent 'edge-1' of tenant 'acme'" in status.output
