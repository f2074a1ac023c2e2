"""Translation of SQLAlchemy/DBAPI failures into the platform's error tree.

One mapping table and one context manager, so every metadata-store operation classifies a
failure the same way and never leaks a DSN or bound parameters into an error message.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import exc as sa_exc

from activities.errors import DatabaseError, TransientDatabaseError, VscError

# First match wins: connection loss, lock timeouts and serialization failures surface as
# OperationalError/InterfaceError and can clear on retry; everything else will not.
METADATA_EXC_MAP: tuple[tuple[type[sa_exc.DBAPIError], type[VscError]], ...] = (
    (sa_exc.OperationalError, TransientDatabaseError),
    (sa_exc.InterfaceError, TransientDatabaseError),
    (sa_exc.DBAPIError, DatabaseError),
)


@contextmanager
def map_metadata_errors(operation: str, **fields: Any) -> Iterator[None]:
    """Re-raise DBAPI errors from the block as our own, naming the operation and tenant.

    Args:
        operation: What was being done, e.g. ``"append an audit event"``.
        **fields: Structured context (tenant, table) copied onto the raised error.

    Raises:
        TransientDatabaseError: The failure may clear on retry.
        DatabaseError: Any other database failure.
    """
    try:
        yield
    except sa_exc.DBAPIError as exc:
        for source, target in METADATA_EXC_MAP:
            if isinstance(exc, source):
                orig = exc.orig
                sqlstate = getattr(orig, "sqlstate", None)
                code = f" (SQLSTATE {sqlstate})" if sqlstate else ""
                scope = ", ".join(f"{k}={v}" for k, v in fields.items())
                where = f" [{scope}]" if scope else ""
                raise target(
                    f"metadata store could not {operation}{where}: {type(orig).__name__}{code}", **fields
                ) from None
        raise
