"""User API secrets in the agent vault: stored sealed, listed by name only, served to call_api."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from activities.errors import ConnectionNotFoundError, InvalidInputError, VaultError
from mini_connector.vault import Vault
from mini_connector.vault_models import VaultApiSecret
from mini_connector.vault_secrets import VaultSecrets
from tests.mini_connector.conftest import all_output, run

SECRET = "Canary-ApiKey-5d2e8b"


def make_vault(tmp_path: Path) -> Vault:
    vault = Vault(tmp_path / "agent.vault", secret_path=tmp_path / "agent.secret", machine_id=b"machine-a")
    vault.init()
    return vault


def test_add_list_remove_and_the_secret_is_sealed(tmp_path: Path) -> None:
    vault = make_vault(tmp_path)
    vault.add_api_secret(VaultApiSecret.build(name="vansales", secret=SECRET))
    vault.add_api_secret(VaultApiSecret.build(name="crm.key", secret="other"))
    assert vault.api_secret_names() == ("crm.key", "vansales")
    assert SECRET.encode() not in (tmp_path / "agent.vault").read_bytes()
    again = Vault(tmp_path / "agent.vault", secret_path=tmp_path / "agent.secret", machine_id=b"machine-a")
    found = again.load().api_secret("vansales")
    assert found is not None and found.secret.get_secret_value() == SECRET
    assert SECRET not in repr(found) and SECRET not in found.model_dump_json()
    with pytest.raises(InvalidInputError):
        vault.add_api_secret(VaultApiSecret.build(name="vansales", secret="x"))
    vault.add_api_secret(VaultApiSecret.build(name="vansales", secret="rotated"), replace=True)
    vault.remove_api_secret("crm.key")
    assert vault.api_secret_names() == ("vansales",)
    with pytest.raises(ConnectionNotFoundError):
        vault.remove_api_secret("crm.key")


@pytest.mark.parametrize(
    "name,secret",
    [("bad name", SECRET), ("../x", SECRET), ("ok", ""), ("ok", SECRET + "\nnext"), ("ok", SECRET * 1000)],
)
def test_invalid_api_secrets_are_refused_without_echoing_them(name: str, secret: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        VaultApiSecret.build(name=name, secret=secret)
    assert SECRET not in refused.value.message


def test_secret_source_reads_the_vault_and_sees_changes(tmp_path: Path) -> None:
    vault = make_vault(tmp_path)
    secrets = VaultSecrets(vault, tenant="acme")
    with pytest.raises(ConnectionNotFoundError):
        secrets.secret(tenant="acme", credential="vansales")
    vault.add_api_secret(VaultApiSecret.build(name="vansales", secret=SECRET))
    assert secrets.secret(tenant="acme", credential="vansales").get_secret_value() == SECRET
    vault.add_api_secret(VaultApiSecret.build(name="vansales", secret="rotated-key"), replace=True)
    assert secrets.secret(tenant="acme", credential="vansales").get_secret_value() == "rotated-key"
    with pytest.raises(ConnectionNotFoundError):
        secrets.secret(tenant="other", credential="vansales")  # the agent serves its own tenant only
    vault.remove_api_secret("vansales")
    with pytest.raises(ConnectionNotFoundError) as gone:
        secrets.secret(tenant="acme", credential="vansales")
    assert "add-api vansales" in gone.value.message


def test_secret_source_without_a_vault_says_so(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "none.vault", secret_path=tmp_path / "none.secret", machine_id=b"m")
    with pytest.raises(VaultError):
        VaultSecrets(vault).secret(tenant="acme", credential="x")


@pytest.fixture
def initialised(agent_home: Path) -> Path:
    result = run("init")
    assert result.exit_code == 0, all_output(result)
    return agent_home


def home_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())


def test_cli_add_api_from_stdin_env_and_prompt_never_shows_the_secret(
    initialised: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    from_stdin = run("credentials", "add-api", "vansales", "--stdin", input=SECRET + "\n")
    assert from_stdin.exit_code == 0, all_output(from_stdin)
    monkeypatch.setenv("CRM_KEY", SECRET + "-crm")
    from_env = run("credentials", "add-api", "crm", "--secret-env", "CRM_KEY")
    assert from_env.exit_code == 0, all_output(from_env)
    prompted = run("credentials", "add-api", "erp-api", input=SECRET + "-erp\n")
    assert prompted.exit_code == 0 and "input hidden" in prompted.output, all_output(prompted)
    listed = run("credentials", "list-api")
    assert listed.output.split() == ["crm", "***", "erp-api", "***", "vansales", "***"]
    outputs = [all_output(r) for r in (from_stdin, from_env, prompted, listed)] + [caplog.text]
    assert all(SECRET not in out for out in outputs)
    assert SECRET.encode() not in home_bytes(initialised)
    from mini_connector.settings import AgentSettings

    secrets = VaultSecrets(Vault.from_settings(AgentSettings()))
    assert secrets.secret(tenant="demo", credential="crm").get_secret_value() == SECRET + "-crm"
    assert secrets.secret(tenant="demo", credential="erp-api").get_secret_value() == SECRET + "-erp"

    taken = run("credentials", "add-api", "vansales", "--stdin", input="x\n")
    assert taken.exit_code == 1 and "--replace" in all_output(taken)
    removed = run("credentials", "remove-api", "crm")
    assert removed.exit_code == 0 and "crm" not in run("credentials", "list-api").output.split()
    missing = run("credentials", "remove-api", "crm")
    assert missing.exit_code == 1 and "no API secret named 'crm'" in all_output(missing)


def test_cli_add_api_refuses_bad_input_without_echo(initialised: Path) -> None:
    both = run("credentials", "add-api", "x", "--stdin", "--secret-env", "NOPE", input="y\n")
    assert both.exit_code == 1
    unset = run("credentials", "add-api", "x", "--secret-env", "VSC_TEST_UNSET_VAR")
    assert unset.exit_code == 1 and "VSC_TEST_UNSET_VAR" in all_output(unset)
    bad = run("credentials", "add-api", "bad name", "--stdin", input=SECRET + "\n")
    assert bad.exit_code == 1 and SECRET not in all_output(bad)
    assert run("credentials", "list-api").output.startswith("no API secrets")
