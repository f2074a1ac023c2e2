"""A cloud PostgreSQL installed through the marketplace, its password a secret, read by the real cloud worker.

Loopback PostgreSQL trusts every local connection, so any password would get in: the test also
checks that the installed secret is in the URL the worker builds for the connection.
"""

from __future__ import annotations

import secrets
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url
from temporalio.testing import WorkflowEnvironment

from activities.connections import registry_loader
from activities.tenant_connections import TenantConnections
from activities.wiring import build_secret_store
from tests.conftest import PG_ADMIN
from tests.workflows.harness import Tenant, running
from workflows.sync_types import SyncResult

from .conftest import MakeApi, come_online, enroll, new_tenant

ROWS = 30


@pytest.fixture
def cloud_pg(pg_database: Callable[[str], str]) -> Iterator[tuple[str, str, str]]:
    """A database with ``orders`` and a read-only login role with a password: (database, role, password)."""
    url = pg_database("cloudsrc")
    database, role, password = (
        make_url(url).database,
        f"vsct_r_{uuid.uuid4().hex[:10]}",
        secrets.token_urlsafe(18),
    )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
        )
        conn.execute("CREATE TABLE orders (id integer PRIMARY KEY, customer text NOT NULL)")
        conn.execute("INSERT INTO orders SELECT g, 'c' || g FROM generate_series(1, %s) g", [ROWS])
        conn.execute(sql.SQL("GRANT SELECT ON orders TO {}").format(sql.Identifier(role)))
    assert database is not None
    yield database, role, password
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


async def test_cloud_worker_reads_a_connection_installed_through_the_api(
    make_api: MakeApi, env: WorkflowEnvironment, tmp_path: Path, cloud_pg: tuple[str, str, str]
) -> None:
    database, role, password = cloud_pg
    name = new_tenant()
    api = await make_api(tenant=name, temporal=env.client)
    install = {
        "name": "cloud_src",
        "location": "cloud",
        "config": {"host": "127.0.0.1", "port": 5432, "database": database, "user": role},
        "secret": {"password": password},
    }
    r = await api.call("POST", "/marketplace/postgresql/install", json=install)
    assert r.status_code == 201, r.text
    local = {"name": "dw", "location": "local", "agent": "edge-1", "credential_name": "dw", "write": True}
    assert (await api.call("POST", "/marketplace/sqlite/install", json=local)).status_code == 201
    enroll(api.engine, name)
    come_online(api.engine, name)
    definition = {
        "name": "cloud-orders",
        "pattern": "3.3.2",
        "input": {
            "agent": "edge-1",
            "source_connection": "cloud_src",
            "destination_connection": "dw",
            "tables": [{"source_table": "orders"}],
        },
    }
    r = await api.call("POST", "/workflow-definitions", json=definition)
    assert r.status_code == 201, r.text
    definition_id = r.json()["id"]

    # The worker's file knows nothing of cloud_src: only the API-saved connection can resolve it.
    tenant = Tenant(client=env.client, home=tmp_path, name=name)
    tenant.agent_connections = [
        {"name": "dw", "kind": "sqlite", "url": f"sqlite:///{tmp_path / 'dw.db'}", "write": True}
    ]
    settings = tenant.cloud_settings()
    worker_view = TenantConnections(
        engine=api.engine,
        tenant=name,
        secrets=build_secret_store(
            vault=settings.vault,
            master_key=settings.secret_master_key,
            master_keyfile=settings.secret_master_keyfile,
            keyring_dir=settings.secret_keyring_dir,
        ),
        fallback=registry_loader(tmp_path / "cloud.json"),
    )
    url = make_url(worker_view.get("cloud_src").url.get_secret_value())
    assert (url.username, url.password, url.database) == (role, password, database)

    async with running(tenant):
        r = await api.call("POST", "/executions", json={"definition_id": definition_id})
        assert r.status_code == 201, r.text
        handle = env.client.get_workflow_handle(r.json()["workflow_id"], result_type=SyncResult)
        result = await handle.result()
    assert result.pattern == "3.3.2" and [t.rows_read for t in result.tables] == [ROWS]
    assert all(t.verified for t in result.tables)
    with sqlite3.connect(tmp_path / "dw.db") as db:
        assert db.execute("SELECT count(*), min(id), max(id) FROM orders").fetchone() == (ROWS, 1, ROWS)
