"""VaultSecretStore on a real Vault API (OpenBao): KV v2 paths, transaction outcome, fail closed."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine

from activities.errors import KeyUnavailableError, SecretStoreUnavailableError
from activities.metadata import make_engine, migrate, provision_tenant, tenant_session
from activities.secrets import VaultSecretStore
from activities.settings import VaultConfig
from tests.openbao import Bao

CANARY = "canary-vault-9c1e"


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'metadata.db'}")
    migrate(engine, tenant=None)
    return engine


def tenant(engine: Engine) -> str:
    name = f"t{uuid.uuid4().hex[:10]}"
    provision_tenant(engine, tenant_id=name, name=name)
    return name


def store(bao: Bao, **overrides) -> VaultSecretStore:
    return VaultSecretStore(config=VaultConfig(**{**bao.vault_settings(), **overrides}))


def test_put_get_delete_roundtrip_under_tenant_path(openbao: Bao, engine: Engine) -> None:
    t, vault = tenant(engine), store(openbao)
    with tenant_session(engine, t) as session:
        ref = vault.put(session, {"password": CANARY})
    assert openbao.paths(f"vsc/{t}/secrets") == [ref]
    raw = openbao.client().secrets.kv.v2.read_secret_version(
        path=f"vsc/{t}/secrets/{ref}", mount_point="secret", raise_on_deleted_version=True
    )
    assert raw["data"]["data"] == {"password": CANARY}
    with tenant_session(engine, t) as session:
        assert vault.get(session, ref) == {"password": CANARY}
        vault.delete(session, ref)
        # Deletion waits for the commit: until then the secret is still there.
        assert openbao.paths(f"vsc/{t}/secrets") == [ref]
    assert openbao.paths(f"vsc/{t}/secrets") == []


def test_put_rolled_back_removes_the_secret(openbao: Bao, engine: Engine) -> None:
    t, vault = tenant(engine), store(openbao)
    with pytest.raises(RuntimeError), tenant_session(engine, t) as session:
        vault.put(session, {"password": CANARY})
        assert len(openbao.paths(f"vsc/{t}/secrets")) == 1
        raise RuntimeError("the row failed")
    assert openbao.paths(f"vsc/{t}/secrets") == []


def test_put_survives_a_released_savepoint_then_rollback_removes(openbao: Bao, engine: Engine) -> None:
    t, vault = tenant(engine), store(openbao)
    with pytest.raises(RuntimeError), tenant_session(engine, t) as session:
        vault.put(session, {"password": CANARY})
        with session.begin_nested():
            pass  # a savepoint released is not the outcome
        assert len(openbao.paths(f"vsc/{t}/secrets")) == 1
        raise RuntimeError("the row failed")
    assert openbao.paths(f"vsc/{t}/secrets") == []


def test_delete_rolled_back_keeps_the_secret(openbao: Bao, engine: Engine) -> None:
    t, vault = tenant(engine), store(openbao)
    with tenant_session(engine, t) as session:
        ref = vault.put(session, {"password": CANARY})
    with pytest.raises(RuntimeError), tenant_session(engine, t) as session:
        vault.delete(session, ref)
        raise RuntimeError("the delete of the row failed")
    with tenant_session(engine, t) as session:
        assert vault.get(session, ref) == {"password": CANARY}


def test_get_other_tenants_ref_is_not_found(openbao: Bao, engine: Engine) -> None:
    a, b, vault = tenant(engine), tenant(engine), store(openbao)
    with tenant_session(engine, a) as session:
        ref = vault.put(session, {"password": CANARY})
    with tenant_session(engine, b) as session, pytest.raises(KeyUnavailableError):
        vault.get(session, ref)


def test_path_prefix_and_mount_are_settings(openbao: Bao, engine: Engine) -> None:
    t, vault = tenant(engine), store(openbao, path_prefix="acme")
    with tenant_session(engine, t) as session:
        ref = vault.put(session, {"k": "v"})
    assert openbao.paths(f"acme/{t}/secrets") == [ref]
    with pytest.raises(SecretStoreUnavailableError), tenant_session(engine, t) as session:
        store(openbao, mount="nomount").put(session, {"k": "v"})


def test_bad_token_fails_closed(openbao: Bao, engine: Engine) -> None:
    t, bad = tenant(engine), store(openbao, token="not-a-token")
    with pytest.raises(SecretStoreUnavailableError) as err, tenant_session(engine, t) as session:
        bad.put(session, {"password": CANARY})
    assert "refused the token" in err.value.message and "not-a-token" not in err.value.message
    assert openbao.paths(f"vsc/{t}/secrets") == []
    with tenant_session(engine, t) as session:
        ref = store(openbao).put(session, {"password": CANARY})
    with pytest.raises(SecretStoreUnavailableError), tenant_session(engine, t) as session:
        bad.get(session, ref)


def test_revoked_token_fails_closed(openbao: Bao, engine: Engine) -> None:
    """A revoked token is refused exactly like an expired one (Vault answers 403 to both)."""
    t = tenant(engine)
    child = openbao.client().auth.token.create(policies=["root"], ttl="1h")["auth"]["client_token"]
    vault = store(openbao, token=child)
    with tenant_session(engine, t) as session:
        ref = vault.put(session, {"password": CANARY})
    openbao.client().auth.token.revoke(child)
    with (
        pytest.raises(SecretStoreUnavailableError, match="refused the token"),
        tenant_session(engine, t) as s,
    ):
        vault.get(s, ref)


def test_token_file_is_reread(openbao: Bao, engine: Engine, tmp_path: Path) -> None:
    t, token_file = tenant(engine), tmp_path / "token"
    token_file.write_text("stale-token\n")
    vault = VaultSecretStore(config=VaultConfig(url=openbao.url, token_file=token_file))
    with pytest.raises(SecretStoreUnavailableError), tenant_session(engine, t) as session:
        vault.put(session, {"k": "v"})
    token_file.write_text(openbao.root_token + "\n")
    with tenant_session(engine, t) as session:
        ref = vault.put(session, {"k": "v"})
        assert vault.get(session, ref) == {"k": "v"}


def test_sealed_vault_fails_closed(sealable_openbao: Bao, engine: Engine) -> None:
    t, vault = tenant(engine), store(sealable_openbao)
    with tenant_session(engine, t) as session:
        ref = vault.put(session, {"password": CANARY})
    sealable_openbao.client().sys.seal()
    with pytest.raises(SecretStoreUnavailableError, match="sealed") as err, tenant_session(engine, t) as s:
        vault.get(s, ref)
    assert CANARY not in str(err.value)
    with pytest.raises(SecretStoreUnavailableError, match="sealed"), tenant_session(engine, t) as s:
        vault.put(s, {"password": CANARY})


def test_unreachable_vault_fails_closed(engine: Engine) -> None:
    t = tenant(engine)
    vault = VaultSecretStore(config=VaultConfig(url="http://127.0.0.1:9", token="x", timeout_seconds=2))
    with (
        pytest.raises(SecretStoreUnavailableError, match="could not be reached"),
        tenant_session(engine, t) as s,
    ):
        vault.put(s, {"k": "v"})


def test_vault_config_refuses_missing_token_and_plain_http_outside_local() -> None:
    with pytest.raises(ValueError, match="token"):
        VaultConfig(url="https://vault:8200").check(environment="local")
    with pytest.raises(ValueError, match="https"):
        VaultConfig(url="http://vault:8200", token="t").check(environment="production")
    VaultConfig(url="https://vault:8200", token="t").check(environment="production")
