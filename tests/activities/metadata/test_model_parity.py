"""The ORM models and the Alembic migrations must describe the same tables."""

import uuid
from pathlib import Path

from sqlalchemy import inspect, text

from activities.metadata import (
    GLOBAL_SCHEMA,
    GlobalBase,
    TenantBase,
    make_engine,
    provision_tenant,
    tenant_schema_name,
)

from .conftest import new_tenant_id


def _shape(engine, schema):
    insp = inspect(engine)
    shape = {}
    for table in insp.get_table_names(schema=schema):
        if table.startswith("alembic_version"):
            continue
        shape[table] = {
            "columns": sorted(
                (c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table, schema)
            ),
            "pk": insp.get_pk_constraint(table, schema)["constrained_columns"],
            "unique": sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(table, schema)),
            "indexes": sorted((i["name"], tuple(i["column_names"])) for i in insp.get_indexes(table, schema)),
            "fks": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"])
                for f in insp.get_foreign_keys(table, schema)
            ),
        }
    return shape


def _create_all(engine, global_schema, tenant_schema):
    scoped = engine.execution_options(schema_translate_map={"global": global_schema, "tenant": tenant_schema})
    with scoped.begin() as conn:
        for schema in {global_schema, tenant_schema} - {None}:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        GlobalBase.metadata.create_all(conn)
        TenantBase.metadata.create_all(conn)


def test_models_match_migrations_on_sqlite(tmp_path: Path):
    migrated = make_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    provision_tenant(migrated, tenant_id=new_tenant_id(), name="Acme")
    modelled = make_engine(f"sqlite:///{tmp_path / 'modelled.db'}")
    _create_all(modelled, None, None)
    shape = _shape(migrated, None)
    assert len(shape) == 18 and all(t["columns"] for t in shape.values())
    assert shape == _shape(modelled, None)


def test_models_match_migrations_on_postgresql(pg_url):
    engine = make_engine(pg_url)
    tid = new_tenant_id()
    provision_tenant(engine, tenant_id=tid, name="Acme")
    scratch_global, scratch_tenant = f"parity_g_{uuid.uuid4().hex[:8]}", f"parity_t_{uuid.uuid4().hex[:8]}"
    try:
        _create_all(engine, scratch_global, scratch_tenant)
        assert _shape(engine, GLOBAL_SCHEMA) == _shape(engine, scratch_global)
        assert _shape(engine, tenant_schema_name(tid)) == _shape(engine, scratch_tenant)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{scratch_global}", "{scratch_tenant}" CASCADE'))
        engine.dispose()
