"""Connections: CRUD confined to the caller's tenant; secrets sealed and never returned."""

from __future__ import annotations

from sqlalchemy import select

from activities.metadata import Connection, SealedSecret, tenant_session

from .conftest import Api

CANARY = "canary-Secret-7f3a"


def cloud(name: str = "dw", **extra) -> dict:
    return {
        "name": name,
        "kind": "postgresql",
        "location": "cloud",
        "config": {"host": "db", "port": 5432},
        "secret": {"password": CANARY},
        "write": True,
        **extra,
    }


def local(name: str = "erp", **extra) -> dict:
    return {
        "name": name,
        "kind": "sqlite",
        "location": "local",
        "agent": "edge-1",
        "credential_name": "erp_cred",
        **extra,
    }


async def create(api: Api, body: dict, caller=None) -> dict:
    r = await api.call("POST", "/connections", caller, json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def test_create_connection_happy(api: Api) -> None:
    r = await api.call("POST", "/connections", json=cloud())
    assert r.status_code == 201
    assert CANARY not in r.text
    body = r.json()
    assert body["has_secret"] is True and body["write"] is True and "secret" not in body
    with tenant_session(api.engine, api.admin.tenant) as session:
        ref = session.scalars(select(Connection.secret_ref).where(Connection.id == body["id"])).one()
        sealed = session.get(SealedSecret, ref)
        assert sealed is not None and CANARY not in sealed.ciphertext
        assert api.app.state.ctx.secrets.get(session, ref) == {"password": CANARY}
    for path in ("/connections", f"/connections/{body['id']}"):
        assert CANARY not in (await api.call("GET", path)).text


async def test_create_connection_local_keeps_credential_on_agent(api: Api) -> None:
    body = await create(api, local())
    assert body["credential_name"] == "erp_cred" and body["has_secret"] is False and body["agent"] == "edge-1"


async def test_create_connection_local_with_secret_422(api: Api) -> None:
    r = await api.call("POST", "/connections", json=local(secret={"password": CANARY}))
    assert r.status_code == 422 and CANARY not in r.text


async def test_create_connection_local_without_agent_422(api: Api) -> None:
    body = local()
    del body["agent"]
    r = await api.call("POST", "/connections", json=body)
    assert r.status_code == 422 and "agent" in r.json()["detail"]


async def test_create_connection_secret_in_config_422(api: Api) -> None:
    r = await api.call("POST", "/connections", json=cloud(config={"db_password": CANARY}))
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "config"]
    assert CANARY not in r.text


async def test_create_connection_mass_assignment_422(api: Api) -> None:
    for field, value in (("tenant_id", api.other.tenant), ("id", "x"), ("secret_ref", "x")):
        r = await api.call("POST", "/connections", json=local(**{field: value}))
        assert r.status_code == 422, field
        assert r.json()["errors"][0]["loc"] == ["body", field]


async def test_create_connection_duplicate_409(api: Api) -> None:
    await create(api, local())
    r = await api.call("POST", "/connections", json=local())
    assert r.status_code == 409


async def test_create_connection_same_name_in_other_tenant(api: Api) -> None:
    await create(api, local())
    await create(api, local(), api.other)


async def test_create_connection_viewer_403(api: Api) -> None:
    r = await api.call("POST", "/connections", api.viewer, json=local())
    assert r.status_code == 403
    assert (await api.call("POST", "/connections", api.operator, json=local())).status_code == 201


async def test_list_connections_excludes_other_tenant(api: Api) -> None:
    mine = await create(api, local())
    await create(api, local("theirs"), api.other)
    r = await api.call("GET", "/connections", api.viewer)
    assert [c["id"] for c in r.json()["data"]] == [mine["id"]]


async def test_list_connections_huge_limit_422(api: Api) -> None:
    r = await api.call("GET", "/connections", params={"limit": 10**9})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "limit"]


async def test_read_connection_happy(api: Api) -> None:
    made = await create(api, local())
    r = await api.call("GET", f"/connections/{made['id']}", api.viewer)
    assert r.status_code == 200 and r.json() == made


async def test_read_connection_not_found(api: Api) -> None:
    assert (await api.call("GET", "/connections/nope")).status_code == 404


async def test_read_connection_other_tenant(api: Api) -> None:
    theirs = await create(api, local(), api.other)
    r = await api.call("GET", f"/connections/{theirs['id']}")
    assert r.status_code == 404 and theirs["id"] in r.json()["detail"]


async def test_update_connection_happy(api: Api) -> None:
    made = await create(api, cloud())
    r = await api.call(
        "PATCH", f"/connections/{made['id']}", json={"write": False, "secret": {"password": "n2"}}
    )
    assert r.status_code == 200 and r.json()["write"] is False and r.json()["has_secret"] is True
    with tenant_session(api.engine, api.admin.tenant) as session:
        assert len(session.scalars(select(SealedSecret.id)).all()) == 1


async def test_update_connection_mass_assignment_422(api: Api) -> None:
    made = await create(api, local())
    r = await api.call("PATCH", f"/connections/{made['id']}", json={"location": "cloud"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "location"]


async def test_update_connection_not_found(api: Api) -> None:
    assert (await api.call("PATCH", "/connections/nope", json={"write": True})).status_code == 404


async def test_update_connection_other_tenant(api: Api) -> None:
    theirs = await create(api, local(), api.other)
    r = await api.call("PATCH", f"/connections/{theirs['id']}", json={"write": True})
    assert r.status_code == 404
    assert (await api.call("GET", f"/connections/{theirs['id']}", api.other)).json()["write"] is False


async def test_delete_connection_happy(api: Api) -> None:
    made = await create(api, cloud())
    r = await api.call("DELETE", f"/connections/{made['id']}", api.operator)
    assert r.status_code == 204
    assert (await api.call("GET", f"/connections/{made['id']}")).status_code == 404
    with tenant_session(api.engine, api.admin.tenant) as session:
        assert session.scalars(select(SealedSecret.id)).all() == []


async def test_delete_connection_viewer_403(api: Api) -> None:
    made = await create(api, local())
    assert (await api.call("DELETE", f"/connections/{made['id']}", api.viewer)).status_code == 403


async def test_delete_connection_not_found(api: Api) -> None:
    assert (await api.call("DELETE", "/connections/nope")).status_code == 404


async def test_delete_connection_other_tenant(api: Api) -> None:
    theirs = await create(api, local(), api.other)
    assert (await api.call("DELETE", f"/connections/{theirs['id']}")).status_code == 404
    assert (await api.call("GET", f"/connections/{theirs['id']}", api.other)).status_code == 200
