import pytest
from sqlalchemy import inspect, select, text

from activities.errors import InvalidInputError, TenantNotFoundError
from activities.metadata import (
    GLOBAL_SCHEMA,
    Connection,
    migrate,
    migrate_all,
    provision_tenant,
    tenant_schema_name,
    tenant_session,
)

from .conftest import new_tenant_id

TENANT_TABLES = {
    "connections",
    "agents",
    "workflow_definitions",
    "executions",
    "sync_state",
    "workflow_execution_events",
    "audit_heads",
    "enrollment_tokens",
    "control_flags",
    "webhooks",
    "webhook_deliveries",
    "schedules",
    "api_keys",
    "sealed_secrets",
    "apis",
    "api_versions",
    "sync_conflicts",
}


def _version(conn, table, schema):
    qualified = f'"{schema}".{table}' if schema else table
    return conn.execute(text(f"SELECT version_num FROM {qualified}")).scalar_one()


def test_migrate_global_and_tenant_to_head(backend):
    tid = new_tenant_id()
    migrate(backend.engine, tenant=None)
    migrate(backend.engine, tenant=None)  # repeatable
    provision_tenant(backend.engine, tenant_id=tid, name="Acme")
    pg = backend.name == "postgresql"
    global_schema = GLOBAL_SCHEMA if pg else None
    tenant_schema = tenant_schema_name(tid) if pg else None
    insp = inspect(backend.engine)
    assert "tenants" in insp.get_table_names(schema=global_schema)
    assert TENANT_TABLES <= set(insp.get_table_names(schema=tenant_schema))
    with backend.engine.connect() as conn:
        assert _version(conn, "alembic_version_global", global_schema) == "g0001"
        assert _version(conn, "alembic_version_tenant", tenant_schema) == "t0008"


def test_provision_tenant_is_idempotent(backend):
    tid = new_tenant_id()
    first = provision_tenant(backend.engine, tenant_id=tid, name="Acme", tier="pro")
    second = provision_tenant(backend.engine, tenant_id=tid, name="Renamed")
    assert first == second
    assert (second.name, second.tier, second.paused) == ("Acme", "pro", False)


def test_provision_tenant_refuses_id_that_would_share_a_schema(backend):
    tid = new_tenant_id()  # "t-<hex>"
    provision_tenant(backend.engine, tenant_id=tid, name="Acme")
    with pytest.raises(InvalidInputError, match="would share a schema"):
        provision_tenant(backend.engine, tenant_id=tid.replace("-", "_"), name="Impostor")


def test_tenant_session_refuses_unknown_tenant(backend):
    migrate(backend.engine, tenant=None)
    with pytest.raises(TenantNotFoundError, match="nobody"):
        with tenant_session(backend.engine, "nobody"):
            pass


def _add_connection(engine, tid, name):
    with tenant_session(engine, tid) as session:
        session.add(Connection(tenant_id=tid, name=name, kind="postgres", location="cloud", config={}))


def _connection_id(engine, tid):
    with tenant_session(engine, tid) as session:
        return session.scalars(select(Connection.id)).first()


def test_session_refuses_writing_a_row_of_another_tenant(backend):
    a, b = new_tenant_id(), new_tenant_id()
    for tid in (a, b):
        provision_tenant(backend.engine, tenant_id=tid, name=tid)
    with pytest.raises(InvalidInputError, match="cannot be written"):
        with tenant_session(backend.engine, a) as session:
            session.add(Connection(tenant_id=b, name="erp", kind="pg", location="cloud", config={}))
    with tenant_session(backend.engine, a) as session:
        session.add(Connection(name="erp", kind="pg", location="local", config={}))
    with tenant_session(backend.engine, a) as session:
        assert [c.tenant_id for c in session.scalars(select(Connection))] == [a]


def test_two_tenants_cannot_see_each_others_rows(backend):
    a, b = new_tenant_id(), new_tenant_id()
    for tid in (a, b):
        provision_tenant(backend.engine, tenant_id=tid, name=tid)
    _add_connection(backend.engine, a, "erp")
    _add_connection(backend.engine, a, "crm")
    _add_connection(backend.engine, b, "erp")  # same name is fine in another tenant

    with tenant_session(backend.engine, a) as session:
        rows = session.scalars(select(Connection).where(Connection.tenant_id == a)).all()
        assert sorted(r.name for r in rows) == ["crm", "erp"]
        assert session.scalars(select(Connection).where(Connection.tenant_id == b)).all() == []
    with tenant_session(backend.engine, b) as session:
        assert [r.name for r in session.scalars(select(Connection).where(Connection.tenant_id == b))] == [
            "erp"
        ]

    # Even a query that forgets the filter sees only its own tenant (schema on PG, criteria on both).
    with tenant_session(backend.engine, b) as session:
        assert {r.tenant_id for r in session.scalars(select(Connection))} == {b}
        assert session.get(Connection, _connection_id(backend.engine, a)) is None

    if backend.name == "postgresql":
        schemas = set(inspect(backend.engine).get_schema_names())
        assert {tenant_schema_name(a), tenant_schema_name(b)} <= schemas
        with backend.engine.connect() as conn:
            counts = {
                tid: conn.execute(
                    text(f'SELECT count(*) FROM "{tenant_schema_name(tid)}".connections')
                ).scalar()
                for tid in (a, b)
            }
        assert counts == {a: 2, b: 1}


def test_migrate_all_upgrades_every_tenant(backend):
    ids = sorted(new_tenant_id() for _ in range(2))
    for tid in ids:
        provision_tenant(backend.engine, tenant_id=tid, name=tid)
    migrated = migrate_all(backend.engine)
    assert set(ids) <= set(migrated)
    assert migrated == sorted(migrated)
