"""Write transactions of the gateway on a tenant's tables.

Several sessions touch the store at once (presence ticks, revocations, enrollments). On SQLite a
transaction that reads and then writes fails at once with "database is locked" when another one
already writes, so every gateway write takes the write lock at BEGIN (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from activities.metadata import validate_tenant_id
from activities.metadata._engine import SQLITE_BEGIN_OPTION, scoped_engine
from activities.metadata._errors import map_metadata_errors


@contextmanager
def tenant_write(engine: Engine, tenant_id: str, operation: str) -> Iterator[Connection]:
    """A connection on the tenant's schema inside one write transaction; commits on a clean exit.

    Callers filter on ``tenant_id`` themselves: this is Core, not a :class:`TenantSession`.
    """
    validate_tenant_id(tenant_id)
    scoped = scoped_engine(engine, tenant_id)
    with map_metadata_errors(operation, tenant=tenant_id), scoped.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        with conn.begin():
            yield conn
