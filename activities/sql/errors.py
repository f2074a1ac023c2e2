"""Translate psycopg, pymysql and sqlite3 exceptions into the platform's error tree.

One mapping table and one context manager, used by every connector method, so a failure is
classified once at the adapter edge. Messages name the connection and table, never a secret.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg
import pyarrow as pa
import pymysql

from activities.errors import (
    AuthenticationFailedError,
    DatabaseError,
    HostUnreachableError,
    ReadOnlyViolationError,
    SchemaMismatchError,
    TableNotFoundError,
    TransientDatabaseError,
    VscError,
)

__all__ = ["ARROW_ERRORS", "ERROR_MAP", "ColumnValueError", "arrow_errors", "classify", "db_errors"]

# (driver, code: SQLSTATE / MySQL errno / sqlite3 message fragment / connect-message fragment, error)
ERROR_MAP: tuple[tuple[str, str, type[VscError]], ...] = (
    ("postgresql", "28P01", AuthenticationFailedError),
    ("postgresql", "28000", AuthenticationFailedError),
    ("postgresql", "42P01", TableNotFoundError),
    ("postgresql", "25006", ReadOnlyViolationError),
    ("postgresql", "40001", TransientDatabaseError),
    ("postgresql", "40P01", TransientDatabaseError),
    ("postgresql", "57P01", TransientDatabaseError),
    ("postgresql", "08", TransientDatabaseError),
    ("postgresql", "password authentication failed", AuthenticationFailedError),
    ("postgresql", "no password supplied", AuthenticationFailedError),
    ("postgresql", "is not permitted to log in", AuthenticationFailedError),
    ("postgresql", 'fatal:  role "', AuthenticationFailedError),
    ("postgresql", "connection refused", HostUnreachableError),
    ("postgresql", "could not translate host name", HostUnreachableError),
    ("postgresql", "name or service not known", HostUnreachableError),
    ("postgresql", "timeout expired", HostUnreachableError),
    ("postgresql", "server closed the connection", TransientDatabaseError),
    ("mysql", "1045", AuthenticationFailedError),
    ("mysql", "1044", AuthenticationFailedError),
    ("mysql", "2003", HostUnreachableError),
    ("mysql", "2005", HostUnreachableError),
    ("mysql", "1146", TableNotFoundError),
    ("mysql", "1792", ReadOnlyViolationError),
    ("mysql", "1213", TransientDatabaseError),
    ("mysql", "1205", TransientDatabaseError),
    ("mysql", "2006", TransientDatabaseError),
    ("mysql", "2013", TransientDatabaseError),
    ("sqlite", "no such table", TableNotFoundError),
    ("sqlite", "readonly database", ReadOnlyViolationError),
    ("sqlite", "database is locked", TransientDatabaseError),
    ("sqlite", "unable to open database file", HostUnreachableError),
)


def _codes(exc: BaseException) -> tuple[str, str]:
    """The driver name and the code or text the mapping table matches against."""
    if isinstance(exc, psycopg.Error):
        return "postgresql", exc.sqlstate or str(exc).lower()
    if isinstance(exc, pymysql.Error):
        return "mysql", str(exc.args[0]) if exc.args else ""
    return "sqlite", str(exc).lower()


def classify(exc: BaseException) -> type[VscError]:
    """Which of our errors a driver exception becomes; ``DatabaseError`` when nothing matches."""
    driver, code = _codes(exc)
    for rule_driver, rule_code, error in ERROR_MAP:
        if rule_driver != driver:
            continue
        # 2 characters: a SQLSTATE class; longer than a code: a message fragment; else exact code
        prefix = len(rule_code) == 2 and code.startswith(rule_code)
        if code == rule_code or prefix or (len(rule_code) > 5 and rule_code in code):
            return error
    return DatabaseError


def _scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


@contextmanager
def db_errors(*, connection: str, table: str | None = None, secret: str | None = None) -> Iterator[None]:
    """Re-raise driver exceptions as our errors naming ``connection`` (and ``table``).

    Args:
        connection: Profile name, always in the message.
        table: Table being worked on, when known.
        secret: The profile password, scrubbed from the driver text in case a driver echoes it.
    """
    try:
        yield
    except (psycopg.Error, pymysql.Error, sqlite3.Error) as exc:
        error = classify(exc)
        where = f"connection {connection!r}" + (f", table {table!r}" if table else "")
        detail = _scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, secret)
        fields = {"connection": connection} | ({"table": table} if table else {})
        raise error(f"{where}: {detail}", **fields) from None


# Arrow failures on the data path: a value that does not fit its column's logical type.
ARROW_ERRORS: tuple[type[Exception], ...] = (
    pa.ArrowInvalid,
    pa.ArrowTypeError,
    pa.ArrowNotImplementedError,
    pa.ArrowKeyError,
)
_CSV_COLUMN = re.compile(r"CSV column #(\d+)")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


class ColumnValueError(Exception):
    """An Arrow failure raised while one named column was being built."""

    def __init__(self, column: str, detail: str) -> None:
        super().__init__(detail)
        self.column = column
        self.detail = detail


@contextmanager
def arrow_errors(*, connection: str, table: str, columns: Sequence[str]) -> Iterator[None]:
    """Re-raise Arrow failures on the data path as ``SchemaMismatchError`` naming the column.

    The column comes from a :class:`ColumnValueError` wrapper, or from the ``CSV column #N``
    that Arrow's CSV reader puts in its message (an index into ``columns``).

    Args:
        connection: Profile name, always in the message.
        table: Table whose rows were being converted.
        columns: Column names in the order the data was read, to name a CSV column index.
    """
    try:
        yield
    except ColumnValueError as exc:
        raise _mismatch(connection, table, exc.column, exc.detail) from None
    except ARROW_ERRORS as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        found = _CSV_COLUMN.search(detail)
        column = columns[int(found.group(1))] if found and int(found.group(1)) < len(columns) else None
        raise _mismatch(connection, table, column, detail) from None


def _mismatch(connection: str, table: str, column: str | None, detail: str) -> SchemaMismatchError:
    where = f"connection {connection!r}, table {table!r}" + (f", column {column!r}" if column else "")
    fields = {"connection": connection, "table": table} | ({"column": column} if column else {})
    # Arrow quotes the offending value; row content stays out of messages and logs
    detail = _QUOTED.sub("'...'", detail)[:200]
    return SchemaMismatchError(f"{where}: value does not fit its type: {detail}", **fields)
