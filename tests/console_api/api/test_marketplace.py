"""Marketplace: the catalog, and installs validated against each kind's schema into the caller's tenant."""

from __future__ import annotations

from sqlalchemy import select

from activities.metadata import Connection, tenant_session

from .conftest import Api

CANARY = "canary-Market-41d2"


def pg_cloud(name: str = "cloud_pg", **extra) -> dict:
    return {
        "name": name,
        "location": "cloud",
        "config": {"host": "db.example", "port": 6432, "database": "sales", "user": "reader"},
        "secret": {"password": CANARY},
        **extra,
    }


def mariadb_local(name: str = "erp", **extra) -> dict:
    return {"name": name, "location": "local", "agent": "edge-1", "credential_name": "erp_cred", **extra}


async def install(api: Api, kind: str, body: dict, caller=None):
    return await api.call("POST", f"/marketplace/{kind}/install", caller, json=body)


async def test_list_marketplace_happy(api: Api) -> None:
    r = await api.call("GET", "/marketplace", api.viewer)
    assert r.status_code == 200
    kinds = {k["kind"]: k for k in r.json()["data"]}
    assert {"postgresql", "mysql", "mariadb", "sqlite", "rest-openapi", "s3", "webhook"} <= set(kinds)
    assert kinds["postgresql"]["accessibility"] == "both" and kinds["postgresql"]["installable"] is True
    assert kinds["postgresql"]["secret_fields"] == ["password"]
    assert kinds["sqlite"]["accessibility"] == "local"
    assert kinds["s3"]["accessibility"] == "internet"
    openapi = kinds["rest-openapi"]
    # Registered with its OpenAPI document through POST /apis (an API, not a connection).
    assert openapi["installable"] is False and "POST /apis" in openapi["unavailable"]
    assert "config_schema" not in openapi


async def test_list_marketplace_unauthenticated_401(api: Api) -> None:
    assert (await api.http.get("/marketplace")).status_code == 401


async def test_read_marketplace_kind_happy(api: Api) -> None:
    r = await api.call("GET", "/marketplace/postgresql", api.viewer)
    assert r.status_code == 200
    body = r.json()
    assert set(body["config_schema"]["required"]) == {"host", "database", "user"}
    assert body["config_schema"]["properties"]["port"]["default"] == 5432
    assert body["config_schema"]["additionalProperties"] is False
    assert body["secrets_schema"]["properties"]["password"]["anyOf"][0]["format"] == "password"
    assert (await api.call("GET", "/marketplace/sqlite")).json()["secrets_schema"] is None


async def test_read_marketplace_kind_not_found(api: Api) -> None:
    r = await api.call("GET", "/marketplace/oracle")
    assert r.status_code == 404 and "oracle" in r.json()["detail"]


async def test_install_marketplace_kind_cloud_happy(api: Api) -> None:
    r = await install(api, "postgresql", pg_cloud(write=True), api.operator)
    assert r.status_code == 201, r.text
    assert CANARY not in r.text
    made = r.json()
    assert made["kind"] == "postgresql" and made["location"] == "cloud" and made["has_secret"] is True
    assert made["config"] == {"host": "db.example", "port": 6432, "database": "sales", "user": "reader"}
    assert made["write"] is True
    listed = await api.call("GET", "/connections")
    assert [c["id"] for c in listed.json()["data"]] == [made["id"]] and CANARY not in listed.text
    with tenant_session(api.engine, api.admin.tenant) as session:
        ref = session.scalars(select(Connection.secret_ref).where(Connection.id == made["id"])).one()
        assert api.app.state.ctx.secrets.get(session, ref) == {"password": CANARY}


async def test_install_marketplace_kind_default_port_and_no_password(api: Api) -> None:
    body = pg_cloud(config={"host": "10.0.0.5", "database": "d", "user": "u"})
    del body["secret"]
    made = (await install(api, "mysql", body)).json()
    assert made["config"]["port"] == 3306 and made["has_secret"] is False


async def test_install_marketplace_kind_local_happy(api: Api) -> None:
    r = await install(api, "mariadb", mariadb_local())
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["location"] == "local" and made["agent"] == "edge-1" and made["credential_name"] == "erp_cred"
    assert made["has_secret"] is False and made["config"] == {}


async def test_install_marketplace_kind_bad_config_422(api: Api) -> None:
    for config, loc in (
        ({"host": "db", "port": "many", "database": "d", "user": "u"}, ["body", "config", "port"]),
        ({"host": "db", "database": "d", "user": "u", "port": 70000}, ["body", "config", "port"]),
        ({"port": 5432, "database": "d", "user": "u"}, ["body", "config", "host"]),
        ({"host": "db", "database": "d", "user": "u", "sslmode": "x"}, ["body", "config", "sslmode"]),
        ({"host": "db;rm -rf", "database": "d", "user": "u"}, ["body", "config", "host"]),
    ):
        r = await install(api, "postgresql", pg_cloud(config=config))
        assert r.status_code == 422, config
        assert r.json()["errors"][0]["loc"] == loc
    assert (await api.call("GET", "/connections")).json()["count"] == 0


async def test_install_marketplace_kind_bad_secret_422(api: Api) -> None:
    r = await install(api, "postgresql", pg_cloud(secret={"passwd": CANARY}))
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "secret", "passwd"]
    assert CANARY not in r.text


async def test_install_marketplace_kind_location_forbidden_422(api: Api) -> None:
    r = await install(api, "sqlite", {"name": "f", "location": "cloud", "config": {"path": "/data/x.db"}})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "location"]
    assert "only on premise" in r.json()["detail"]
    assert (await api.call("GET", "/connections")).json()["count"] == 0


async def test_install_marketplace_kind_local_needs_agent_and_credential_422(api: Api) -> None:
    for field in ("agent", "credential_name"):
        body = mariadb_local()
        del body[field]
        r = await install(api, "mariadb", body)
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", field]
    r = await install(api, "mariadb", mariadb_local(secret={"password": CANARY}))
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "secret"]
    assert CANARY not in r.text
    r = await install(api, "postgresql", pg_cloud(agent="edge-1"))
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "agent"]


async def test_install_marketplace_kind_not_runnable_422(api: Api) -> None:
    for kind, said in (
        ("rest-openapi", "POST /apis"),
        ("s3", "not runnable yet"),
        ("webhook", "POST /webhooks"),
    ):
        r = await install(api, kind, {"name": "x", "location": "cloud"})
        assert r.status_code == 422, kind
        assert r.json()["errors"][0]["loc"] == ["path", "kind"] and said in r.json()["detail"]
    assert (await api.call("GET", "/connections")).json()["count"] == 0


async def test_install_marketplace_kind_not_found(api: Api) -> None:
    r = await install(api, "oracle", pg_cloud())
    assert r.status_code == 404


async def test_install_marketplace_kind_other_tenant(api: Api) -> None:
    mine = (await install(api, "postgresql", pg_cloud())).json()
    assert (await api.call("GET", f"/connections/{mine['id']}", api.other)).status_code == 404
    assert (await api.call("GET", "/connections", api.other)).json()["count"] == 0
    # the same name is free in the other tenant: installs land in the caller's tenant only
    assert (await install(api, "postgresql", pg_cloud(), api.other)).status_code == 201


async def test_install_marketplace_kind_duplicate_409(api: Api) -> None:
    assert (await install(api, "postgresql", pg_cloud())).status_code == 201
    assert (await install(api, "mysql", pg_cloud())).status_code == 409


async def test_install_marketplace_kind_viewer_403(api: Api) -> None:
    assert (await install(api, "postgresql", pg_cloud(), api.viewer)).status_code == 403


async def test_install_marketplace_kind_mass_assignment_422(api: Api) -> None:
    for field, value in (("tenant_id", api.other.tenant), ("kind", "sqlite"), ("secret_ref", "x")):
        r = await install(api, "postgresql", pg_cloud(**{field: value}))
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", field]


async def test_read_marketplace_kind_other_tenant(api: Api) -> None:
    """The catalog is the platform's, the same for every tenant; nothing in it is a tenant's object."""
    mine = (await api.call("GET", "/marketplace/mariadb")).json()
    assert (await api.call("GET", "/marketplace/mariadb", api.other)).json() == mine
