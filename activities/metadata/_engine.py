"""Engines and tenant-scoped sessions for the metadata store.

Sessions get the schema translate map from :mod:`activities.metadata._naming`, so callers
name a tenant and never a schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction, with_loader_criteria

from activities.errors import InvalidInputError, TenantNotFoundError
from activities.metadata._errors import map_metadata_errors
from activities.metadata._models import Tenant, TenantScoped
from activities.metadata._naming import translate_map, validate_tenant_id

# Connection option read by the SQLite "begin" hook: writers that must serialise (the audit
# chain) take the write lock at BEGIN instead of failing later on lock upgrade.
SQLITE_BEGIN_OPTION = "vsc_sqlite_begin"
_SQLITE_BUSY_TIMEOUT_S = 30


def make_engine(url: str) -> Engine:
    """Create the engine for a metadata URL (SQLite file or PostgreSQL).

    ``postgresql://`` URLs are pointed at psycopg 3; SQLite gets WAL, foreign keys and a
    busy timeout, and its parent directory is created (e.g. ``.vsc/``).

    Raises:
        InvalidInputError: The URL cannot be parsed, or names an in-memory SQLite database
            (each pooled connection would see a different empty database).
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InvalidInputError("metadata store URL could not be parsed") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    if not parsed.database or parsed.database == ":memory:":
        raise InvalidInputError("metadata store needs a SQLite file, not an in-memory database")
    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        parsed, connect_args={"timeout": _SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
    )
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from pysqlite so our "begin" hook decides the BEGIN mode.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def scoped_engine(engine: Engine, tenant_id: str | None) -> Engine:
    """The engine with the schema translate map of the global schema or one tenant."""
    return engine.execution_options(schema_translate_map=translate_map(engine.dialect.name, tenant_id))


def require_tenant(session: Session, tenant_id: str) -> Tenant:
    """Return the tenant row, refusing ids that were never provisioned.

    Raises:
        TenantNotFoundError: No such tenant.
    """
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise TenantNotFoundError(f"tenant {tenant_id!r} is not provisioned", tenant=tenant_id)
    return tenant


@contextmanager
def global_session(engine: Engine) -> Iterator[Session]:
    """Session on the global schema (the tenant registry); commits on a clean exit.

    Raises:
        DatabaseError: A database failure inside the block (TransientDatabaseError if retryable).
    """
    with map_metadata_errors("use the tenant registry"), Session(scoped_engine(engine, None)) as session:
        with session.begin():
            yield session


class TenantSession(Session):
    """Session bound to one tenant: its ORM reads and writes are confined to that tenant's rows.

    On PostgreSQL the schema already separates tenants; the extra ``tenant_id`` criteria are
    what separates them in the shared SQLite file, and a second wall on PostgreSQL.
    """

    @property
    def tenant_id(self) -> str:
        """The tenant this session was opened for."""
        return str(self.info["tenant_id"])


@event.listens_for(TenantSession, "do_orm_execute")
def _only_this_tenants_rows(state: ORMExecuteState) -> None:
    if state.is_column_load or state.is_relationship_load:
        return
    if state.is_select or state.is_update or state.is_delete:
        tenant_id = state.session.info["tenant_id"]
        state.statement = state.statement.options(
            with_loader_criteria(TenantScoped, lambda cls: cls.tenant_id == tenant_id, include_aliases=True)
        )


@event.listens_for(TenantSession, "before_flush")
def _refuse_foreign_rows(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    tenant_id = session.info["tenant_id"]
    for obj in (*session.new, *session.dirty):
        if not isinstance(obj, TenantScoped):
            continue
        if getattr(obj, "tenant_id", None) is None:
            obj.tenant_id = tenant_id
        elif obj.tenant_id != tenant_id:
            raise InvalidInputError(
                f"{type(obj).__name__} of tenant {obj.tenant_id!r} cannot be written "
                f"through a session of tenant {tenant_id!r}",
                tenant=tenant_id,
            )


@contextmanager
def tenant_session(engine: Engine, tenant_id: str) -> Iterator[TenantSession]:
    """Session whose tenant tables resolve to ``tenant_id``'s schema; commits on a clean exit.

    ORM queries on tenant tables only ever return this tenant's rows, new rows get its
    ``tenant_id``, and writing a row of another tenant is refused.

    Raises:
        InvalidInputError: The tenant id is malformed.
        TenantNotFoundError: The tenant was never provisioned.
        DatabaseError: A database failure inside the block (TransientDatabaseError if retryable).
    """
    validate_tenant_id(tenant_id)
    with (
        map_metadata_errors("use the metadata store", tenant=tenant_id),
        TenantSession(scoped_engine(engine, tenant_id), info={"tenant_id": tenant_id}) as session,
    ):
        with session.begin():
            require_tenant(session, tenant_id)
            yield session
