"""S2 (fault part): key custody fails closed; tenants never see each other's keys; the cap rotates keys."""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import stat
from pathlib import Path

import pytest

from activities.crypto import LocalKeyring, load_master_key
from activities.errors import InvalidInputError, KeyUnavailableError


@pytest.fixture
def master() -> bytes:
    return secrets.token_bytes(32)


def _key_file(root: Path, tenant: str, key_id: str) -> Path:
    return root / tenant / "keys" / f"{key_id}.json"


def test_current_and_get_agree_and_persist(tmp_path: Path, master: bytes) -> None:
    ring = LocalKeyring(tmp_path, master)
    key = ring.current("acme")
    assert len(key.key) == 32 and key.key.hex() not in repr(key)
    assert ring.get("acme", key.key_id) == key
    assert LocalKeyring(tmp_path, master).get("acme", key.key_id) == key
    assert LocalKeyring(tmp_path, master).current("acme").key_id == key.key_id
    path = _key_file(tmp_path, "acme", key.key_id)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key.key not in path.read_bytes() and base64.b64encode(key.key) not in path.read_bytes()


def test_wrong_master_key_fails_closed(tmp_path: Path, master: bytes) -> None:
    key = LocalKeyring(tmp_path, master).current("acme")
    wrong = LocalKeyring(tmp_path, secrets.token_bytes(32))
    with pytest.raises(KeyUnavailableError, match="wrong master key or tampered"):
        wrong.get("acme", key.key_id)
    with pytest.raises(KeyUnavailableError):
        wrong.current("acme")  # never silently mints a replacement key


@pytest.mark.parametrize("field", ["wrapped", "nonce"])
def test_tampered_key_file_fails_closed(tmp_path: Path, master: bytes, field: str) -> None:
    key = LocalKeyring(tmp_path, master).current("acme")
    path = _key_file(tmp_path, "acme", key.key_id)
    record = json.loads(path.read_text())
    raw = bytearray(base64.b64decode(record[field]))
    raw[0] ^= 1
    record[field] = base64.b64encode(bytes(raw)).decode()
    path.write_text(json.dumps(record))
    with pytest.raises(KeyUnavailableError):
        LocalKeyring(tmp_path, master).get("acme", key.key_id)


def test_corrupt_key_store_files_fail_closed(tmp_path: Path, master: bytes) -> None:
    key = LocalKeyring(tmp_path, master).current("acme")
    _key_file(tmp_path, "acme", key.key_id).write_text("{not json")
    with pytest.raises(KeyUnavailableError, match="acme"):
        LocalKeyring(tmp_path, master).get("acme", key.key_id)
    (tmp_path / "acme" / "current.json").write_text('{"key_id": 1}')
    with pytest.raises(KeyUnavailableError, match="pointer"):
        LocalKeyring(tmp_path, master).current("acme")


def test_tenant_cannot_get_another_tenants_key(tmp_path: Path, master: bytes) -> None:
    ring = LocalKeyring(tmp_path, master)
    key_a = ring.current("tenant-a")
    ring.current("tenant-b")
    with pytest.raises(KeyUnavailableError):
        ring.get("tenant-b", key_a.key_id)
    # even a key file copied into B's namespace does not unwrap: the tenant is bound in the AAD
    shutil.copy(_key_file(tmp_path, "tenant-a", key_a.key_id), _key_file(tmp_path, "tenant-b", key_a.key_id))
    with pytest.raises(KeyUnavailableError):
        LocalKeyring(tmp_path, master).get("tenant-b", key_a.key_id)
    with pytest.raises(KeyUnavailableError):
        ring.get("tenant-b", f"../tenant-a/keys/{key_a.key_id}")
    with pytest.raises(InvalidInputError):
        ring.current("../tenant-a")


def test_message_cap_rotates_and_old_keys_stay_readable(tmp_path: Path, master: bytes) -> None:
    ring = LocalKeyring(tmp_path, master, max_messages=3)
    ids = [ring.current("acme").key_id for _ in range(7)]
    assert ids[0] == ids[1] == ids[2] != ids[3]
    assert ids[3] == ids[4] == ids[5] != ids[6]
    # a restarted process never reuses a key past the cap (reservations are persisted)
    restarted = LocalKeyring(tmp_path, master, max_messages=3)
    assert restarted.current("acme").key_id not in {ids[0], ids[3]}
    for key_id in set(ids):
        assert restarted.get("acme", key_id).key_id == key_id


def test_load_master_key_from_env_or_keyfile(tmp_path: Path) -> None:
    raw = secrets.token_bytes(32)
    assert load_master_key(env_value=base64.b64encode(raw).decode(), keyfile=tmp_path / "k") == raw
    assert not (tmp_path / "k").exists()
    created = load_master_key(env_value=None, keyfile=tmp_path / "dev" / "master.key")
    assert stat.S_IMODE((tmp_path / "dev" / "master.key").stat().st_mode) == 0o600
    assert load_master_key(env_value=None, keyfile=tmp_path / "dev" / "master.key") == created
    with pytest.raises(KeyUnavailableError, match="environment"):
        load_master_key(env_value="bm90IDMyIGJ5dGVz", keyfile=tmp_path / "k")
    with pytest.raises(KeyUnavailableError, match="does not exist"):
        load_master_key(env_value=None, keyfile=tmp_path / "missing", create_missing=False)
