"""The cloud worker's view of a tenant's connections: saved ones (metadata + secret store) before the file."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from activities.connections import registry_loader
from activities.crypto import LocalKeyring
from activities.errors import ConnectionNotFoundError, InvalidInputError, SecretStoreUnavailableError
from activities.metadata import Connection, make_engine, migrate, provision_tenant, tenant_session
from activities.secrets import SealedSecretStore, SecretStore, VaultSecretStore
from activities.settings import VaultConfig
from activities.tenant_connections import TenantConnections
from tests.openbao import Bao

CANARY = "canary-Worker-p@ss/7"


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'metadata.db'}")
    migrate(engine, tenant=None)
    return engine


@pytest.fixture
def sealed(tmp_path: Path) -> SealedSecretStore:
    return SealedSecretStore(keyring=LocalKeyring(tmp_path / "secret-keys", b"k" * 32))


def tenant(engine: Engine) -> str:
    name = f"t{uuid.uuid4().hex[:10]}"
    provision_tenant(engine, tenant_id=name, name=name)
    return name


def save(engine: Engine, t: str, store: SecretStore, *, name: str, location: str = "cloud", **config) -> None:
    with tenant_session(engine, t) as session:
        ref = store.put(session, {"password": CANARY}) if location == "cloud" else None
        session.add(
            Connection(
                name=name,
                kind="postgresql",
                location=location,
                agent_id="edge-1" if location == "local" else None,
                config=config,
                secret_ref=ref,
                write_granted=True,
            )
        )


def file_registry(tmp_path: Path, *names: str):
    path = tmp_path / "cloud.json"
    profiles = [{"name": n, "kind": "sqlite", "url": f"sqlite:///{tmp_path / n}.db"} for n in names]
    path.write_text(json.dumps({"connections": profiles}))
    return registry_loader(path)


PG = {"host": "127.0.0.1", "port": 5433, "database": "sales", "user": "reader"}


def test_saved_cloud_connection_becomes_a_profile(
    engine: Engine, sealed: SealedSecretStore, tmp_path: Path
) -> None:
    t = tenant(engine)
    save(engine, t, sealed, name="dw", **PG)
    profile = TenantConnections(
        engine=engine, tenant=t, secrets=sealed, fallback=file_registry(tmp_path)
    ).get("dw")
    url = make_url(profile.url.get_secret_value())
    assert (url.drivername, url.host, url.port, url.database) == (
        "postgresql+psycopg",
        "127.0.0.1",
        5433,
        "sales",
    )
    assert url.username == "reader" and url.password == CANARY  # quoted in the URL, intact after parsing
    assert profile.kind == "postgresql" and profile.location == "cloud" and profile.write is True
    assert CANARY not in profile.masked_url()


def test_saved_connection_wins_and_the_file_still_works(
    engine: Engine, sealed: SealedSecretStore, tmp_path: Path
) -> None:
    t = tenant(engine)
    save(engine, t, sealed, name="dw", **PG)
    source = TenantConnections(
        engine=engine, tenant=t, secrets=sealed, fallback=file_registry(tmp_path, "dw", "f")
    )
    assert source.get("dw").kind == "postgresql"
    assert source.get("f").kind == "sqlite"


def test_other_tenants_and_local_connections_are_not_resolved(
    engine: Engine, sealed: SealedSecretStore, tmp_path: Path
) -> None:
    a, b = tenant(engine), tenant(engine)
    save(engine, b, sealed, name="theirs", **PG)
    save(engine, a, sealed, name="on_prem", location="local", **PG)
    source = TenantConnections(engine=engine, tenant=a, secrets=sealed, fallback=file_registry(tmp_path))
    for name in ("theirs", "on_prem", "nope"):
        with pytest.raises(ConnectionNotFoundError, match="neither a cloud connection"):
            source.get(name)


def test_saved_connection_with_incomplete_config_is_a_clear_error(
    engine: Engine, sealed: SealedSecretStore, tmp_path: Path
) -> None:
    t = tenant(engine)
    save(engine, t, sealed, name="dw", host="db")
    source = TenantConnections(engine=engine, tenant=t, secrets=sealed, fallback=file_registry(tmp_path))
    with pytest.raises(InvalidInputError, match="database: Field required") as err:
        source.get("dw")
    assert CANARY not in err.value.message


def test_sealed_vault_fails_the_lookup_closed(engine: Engine, sealable_openbao: Bao, tmp_path: Path) -> None:
    t = tenant(engine)
    vault = VaultSecretStore(config=VaultConfig(**sealable_openbao.vault_settings()))
    save(engine, t, vault, name="dw", **PG)
    source = TenantConnections(engine=engine, tenant=t, secrets=vault, fallback=file_registry(tmp_path, "dw"))
    assert make_url(source.get("dw").url.get_secret_value()).password == CANARY
    sealable_openbao.client().sys.seal()
    # No fallback to the file's profile of the same name, nor to a cached secret.
    with pytest.raises(SecretStoreUnavailableError, match="sealed"):
        source.get("dw")
