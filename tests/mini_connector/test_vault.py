from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from activities.errors import ConnectionNotFoundError, InvalidInputError, VaultError
from mini_connector.identity import AgentIdentity, AgentKey
from mini_connector.vault import Vault, machine_identity
from mini_connector.vault_models import VaultCredential

ROOT = Path(__file__).resolve().parents[2]
SECRET = "Canary-pw-7f3a91"


def make_vault(directory: Path, machine: bytes = b"machine-a", name: str = "agent") -> Vault:
    return Vault(directory / f"{name}.vault", secret_path=directory / f"{name}.secret", machine_id=machine)


def credential(name: str = "erp_pg", **extra: object) -> VaultCredential:
    return VaultCredential.build(
        name=name, kind="postgresql", url=f"postgresql://reader:{SECRET}@127.0.0.1:5432/erp", **extra
    )


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    v = make_vault(tmp_path)
    v.init()
    key = AgentKey.generate()
    v.set_identity(AgentIdentity.create(key=key, tenant="acme", agent_id="edge-1", gateway_url="wss://gw"))
    v.add_credential(credential())
    v.add_credential(
        VaultCredential.build(name="dw", kind="mariadb", url="mysql://loader:pw@127.0.0.1/dw", write=True)
    )
    return v


def test_round_trip_keeps_identity_and_credentials(vault: Vault, tmp_path: Path) -> None:
    again = make_vault(tmp_path)  # a fresh object: nothing cached in memory
    contents = again.load()
    assert contents.identity is not None and contents.identity.tenant == "acme"
    assert vault.identity() == contents.identity
    assert [c.name for c in again.credentials()] == ["dw", "erp_pg"]
    pg = again.credential("erp_pg")
    assert pg.url.get_secret_value().endswith(f"{SECRET}@127.0.0.1:5432/erp") and pg.write is False
    assert SECRET.encode() not in vault.path.read_bytes()
    assert b"reader" not in vault.path.read_bytes()


def test_registry_serves_the_vault_credentials(vault: Vault) -> None:
    registry = vault.registry()
    assert registry.names() == ["dw", "erp_pg"]
    assert registry.get("dw").kind == "mysql" and registry.get("dw").write is True
    assert registry.get("erp_pg").url.get_secret_value().count(SECRET) == 1


def test_files_are_owner_only(vault: Vault) -> None:
    for path in (vault.path, vault.secret_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert vault.permission_problems() == []
    os.chmod(vault.path, 0o644)
    assert vault.permission_problems() == [f"{vault.path} has mode 0644, expected 0600"]


def test_another_machine_cannot_open_a_copied_vault(vault: Vault) -> None:
    thief = Vault(vault.path, secret_path=vault.secret_path, machine_id=b"machine-b")
    with pytest.raises(VaultError, match="another machine"):
        thief.load()


def test_wrong_agent_secret_is_refused(vault: Vault) -> None:
    vault.secret_path.write_bytes(os.urandom(32))
    with pytest.raises(VaultError, match="cannot be opened"):
        vault.load()


def test_missing_secret_and_missing_vault_are_named(vault: Vault, tmp_path: Path) -> None:
    with pytest.raises(VaultError, match="run `vsc-agent init`"):
        make_vault(tmp_path, name="never").load()
    vault.secret_path.unlink()
    with pytest.raises(VaultError, match="agent secret .* is missing"):
        vault.load()


@pytest.mark.parametrize("offset", [0, 8, 9, 20, 26, 30, 40, -1, -17])
def test_any_flipped_bit_is_refused(vault: Vault, offset: int) -> None:
    blob = bytearray(vault.path.read_bytes())
    blob[offset] ^= 0x01
    vault.path.write_bytes(bytes(blob))
    with pytest.raises(VaultError):
        vault.load()


@pytest.mark.parametrize("keep", [0, 5, 25, 40, -1])
def test_truncated_vault_is_refused(vault: Vault, keep: int) -> None:
    blob = vault.path.read_bytes()
    vault.path.write_bytes(blob[:keep])
    with pytest.raises(VaultError):
        vault.load()


def test_unknown_format_version_is_refused_by_name(vault: Vault) -> None:
    blob = bytearray(vault.path.read_bytes())
    blob[8] = 2
    vault.path.write_bytes(bytes(blob))
    with pytest.raises(VaultError, match="format version 2"):
        vault.load()


def test_init_twice_is_refused(vault: Vault) -> None:
    with pytest.raises(VaultError, match="already exists"):
        vault.init()


def test_duplicate_and_unknown_credentials(vault: Vault) -> None:
    with pytest.raises(InvalidInputError, match="erp_pg"):
        vault.add_credential(credential())
    vault.add_credential(credential(write=True), replace=True)
    assert vault.credential("erp_pg").write is True
    vault.remove_credential("erp_pg")
    with pytest.raises(ConnectionNotFoundError, match="erp_pg"):
        vault.remove_credential("erp_pg")


def test_invalid_credential_never_echoes_the_url() -> None:
    with pytest.raises(InvalidInputError) as info:
        VaultCredential.build(name="x", kind="mariadb", url=f"postgresql://u:{SECRET}@h/db")
    assert SECRET not in str(info.value) and "kind is mariadb" in str(info.value)


CRASH = """
import os, signal, sys
from pathlib import Path
from mini_connector.vault import Vault
from mini_connector.vault_models import VaultCredential

def crash(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

vault = Vault(Path(sys.argv[1]), secret_path=Path(sys.argv[2]), machine_id=b"machine-a")
setattr(os, sys.argv[3], crash)
vault.add_credential(VaultCredential.build(name="new", kind="sqlite", url="sqlite:///new.db"))
"""


@pytest.mark.parametrize("crash_in", ["fsync", "replace"])
def test_crash_mid_write_leaves_the_old_vault_readable(vault: Vault, crash_in: str) -> None:
    before = vault.load()
    proc = subprocess.run(
        [sys.executable, "-c", CRASH, str(vault.path), str(vault.secret_path), crash_in],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == -9, proc.stderr.decode()
    assert [p.name for p in vault.path.parent.iterdir() if p.name.startswith(".tmp-")], (
        "no write was in flight"
    )
    assert vault.load() == before


def test_export_restores_on_another_machine(vault: Vault, tmp_path: Path) -> None:
    backup = vault.export("correct horse battery staple")
    assert SECRET.encode() not in backup
    other_dir = tmp_path / "other"
    other = make_vault(other_dir, machine=b"machine-b")
    restored = other.import_(backup, "correct horse battery staple")
    assert restored == vault.load()
    assert other.load() == vault.load()
    assert stat.S_IMODE(other.secret_path.stat().st_mode) == 0o600
    assert other.secret_path.read_bytes() != vault.secret_path.read_bytes()
    with pytest.raises(VaultError):  # the restored file is keyed to machine-b, not to the backup
        Vault(other.path, secret_path=other.secret_path, machine_id=b"machine-a").load()


def test_backup_refuses_wrong_passphrase_and_tampering(vault: Vault, tmp_path: Path) -> None:
    backup = vault.export("right")
    other = make_vault(tmp_path / "other", machine=b"machine-b")
    with pytest.raises(VaultError, match="wrong passphrase"):
        other.import_(backup, "wrong")
    tampered = bytearray(backup)
    tampered[-1] ^= 1
    with pytest.raises(VaultError):
        other.import_(bytes(tampered), "right")
    expensive = bytearray(backup)
    expensive[9] = 30  # scrypt cost from the header is bounded before any work is done
    with pytest.raises(VaultError, match="out-of-range"):
        other.import_(bytes(expensive), "right")
    with pytest.raises(VaultError, match="not a vault backup"):
        other.import_(vault.path.read_bytes(), "right")
    assert not other.exists()


def test_machine_identity_falls_back_and_can_be_overridden(tmp_path: Path) -> None:
    first, second = tmp_path / "etc-machine-id", tmp_path / "dbus-machine-id"
    second.write_text("dbus-id\n")
    assert machine_identity(paths=(first, second)) == b"dbus-id"
    first.write_text("etc-id\n")
    assert machine_identity(paths=(first, second)) == b"etc-id"
    assert machine_identity(override="forced", paths=(first, second)) == b"forced"
    with pytest.raises(VaultError, match="VSC_AGENT_MACHINE_ID"):
        machine_identity(paths=(tmp_path / "none",))
