import pytest
from sqlalchemy import select

from activities.errors import DatabaseError, InvalidInputError
from activities.metadata import Connection, make_engine, migrate, provision_tenant, tenant_session

from .conftest import new_tenant_id


def test_make_engine_creates_the_sqlite_parent_directory(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'nested' / '.vsc' / 'metadata.db'}")
    migrate(engine, tenant=None)
    assert (tmp_path / "nested" / ".vsc" / "metadata.db").exists()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_make_engine_refuses_in_memory_sqlite(url):
    with pytest.raises(InvalidInputError, match="in-memory"):
        make_engine(url)


def test_make_engine_error_never_echoes_the_url():
    with pytest.raises(InvalidInputError) as info:
        make_engine("not a url :hunter2@")
    assert "hunter2" not in str(info.value)


def test_migrations_run_from_any_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    provision_tenant(engine, tenant_id="acme", name="Acme")


def test_database_errors_are_translated_without_row_values(backend):
    tid = new_tenant_id()
    provision_tenant(backend.engine, tenant_id=tid, name="Acme")
    with tenant_session(backend.engine, tid) as session:
        session.add(Connection(name="erp-canary-7f3a", kind="pg", location="cloud", config={}))
    with pytest.raises(DatabaseError, match=tid) as info:
        with tenant_session(backend.engine, tid) as session:
            session.add(Connection(name="erp-canary-7f3a", kind="pg", location="cloud", config={}))
    assert "canary" not in str(info.value)
    with tenant_session(backend.engine, tid) as session:
        assert len(session.scalars(select(Connection)).all()) == 1
