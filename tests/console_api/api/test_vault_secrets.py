"""The console with Vault (a real OpenBao) as its secret store: fail closed with 503, nothing half-made."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import event, select

from activities.errors import DatabaseError
from activities.metadata import Connection, SealedSecret, tenant_session
from tests.openbao import Bao

from .conftest import Api, MakeApi

CANARY = "canary-Vault-api-5b7e"


def cloud(name: str = "dw") -> dict:
    return {
        "name": name,
        "location": "cloud",
        "config": {"host": "db", "database": "d", "user": "u"},
        "secret": {"password": CANARY},
    }


async def connections(api: Api) -> list[str]:
    with tenant_session(api.engine, api.admin.tenant) as session:
        return list(session.scalars(select(Connection.name)).all())


@pytest.fixture
def failing_insert() -> Iterator[None]:
    """Make the next connection INSERT fail after its secret was written (a row that fails)."""

    def refuse(*_args) -> None:
        raise DatabaseError("metadata store could not insert (injected)")

    event.listen(Connection, "before_insert", refuse)
    yield
    event.remove(Connection, "before_insert", refuse)


async def test_install_marketplace_kind_vault_happy(make_api: MakeApi, openbao: Bao) -> None:
    api = await make_api(vault=openbao.vault_settings())
    r = await api.call("POST", "/marketplace/postgresql/install", json=cloud())
    assert r.status_code == 201, r.text
    assert CANARY not in r.text
    tenant = api.admin.tenant
    [ref] = openbao.paths(f"vsc/{tenant}/secrets")
    with tenant_session(api.engine, tenant) as session:
        assert session.scalars(select(Connection.secret_ref)).one() == ref
        assert session.scalars(select(SealedSecret.id)).all() == []  # nothing in the local store
        assert api.app.state.ctx.secrets.get(session, ref) == {"password": CANARY}
    assert openbao.paths(f"vsc/{api.other.tenant}/secrets") == []


async def test_delete_connection_vault_removes_secret(make_api: MakeApi, openbao: Bao) -> None:
    api = await make_api(vault=openbao.vault_settings())
    made = (await api.call("POST", "/connections", json={**cloud(), "kind": "postgresql"})).json()
    assert len(openbao.paths(f"vsc/{api.admin.tenant}/secrets")) == 1
    assert (await api.call("DELETE", f"/connections/{made['id']}")).status_code == 204
    assert openbao.paths(f"vsc/{api.admin.tenant}/secrets") == []


async def test_update_connection_vault_rotates_secret(make_api: MakeApi, openbao: Bao) -> None:
    api = await make_api(vault=openbao.vault_settings())
    made = (await api.call("POST", "/connections", json={**cloud(), "kind": "postgresql"})).json()
    [old] = openbao.paths(f"vsc/{api.admin.tenant}/secrets")
    r = await api.call("PATCH", f"/connections/{made['id']}", json={"secret": {"password": "n2"}})
    assert r.status_code == 200
    [new] = openbao.paths(f"vsc/{api.admin.tenant}/secrets")
    assert new != old


async def test_install_marketplace_kind_vault_sealed_503(make_api: MakeApi, sealable_openbao: Bao) -> None:
    api = await make_api(vault=sealable_openbao.vault_settings())
    sealable_openbao.client().sys.seal()
    r = await api.call("POST", "/marketplace/postgresql/install", json=cloud())
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert "secret store is unavailable" in r.json()["detail"] and CANARY not in r.text
    assert await connections(api) == []


async def test_create_connection_vault_bad_token_503(make_api: MakeApi, openbao: Bao) -> None:
    api = await make_api(vault=openbao.vault_settings(token="expired-or-wrong"))
    r = await api.call("POST", "/connections", json={**cloud(), "kind": "postgresql"})
    assert r.status_code == 503 and "expired-or-wrong" not in r.text
    assert await connections(api) == []
    assert openbao.paths(f"vsc/{api.admin.tenant}/secrets") == []


async def test_install_marketplace_kind_vault_row_fails_secret_removed(
    make_api: MakeApi, openbao: Bao, failing_insert: None
) -> None:
    api = await make_api(vault=openbao.vault_settings())
    r = await api.call("POST", "/marketplace/postgresql/install", json=cloud())
    assert r.status_code == 500 and CANARY not in r.text
    assert await connections(api) == []
    # The secret was written before the row failed, and removed when the transaction rolled back
    assert openbao.paths(f"vsc/{api.admin.tenant}/secrets") == []
