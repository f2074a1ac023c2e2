"""SQLite connector on the standard library: canonical text storage, ``query_only`` reads.

SQLite has no date, time or decimal storage classes, so values are stored as canonical text
(timestamps ``YYYY-MM-DD HH:MM:SS.ffffff``, UTC for ``timestamptz``) that sorts like the value.
"""

from __future__ import annotations

import os
import sqlite3
import time as _time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import make_url

from activities.errors import InvalidInputError
from activities.sql.connector import SqlConnector
from activities.sql.models import PrivilegeReport
from activities.sql.typemap import logical_from_sqlite
from workflows.types import ColumnSchema, TableSchema

__all__ = ["SqliteConnector"]

_TS = "%Y-%m-%d %H:%M:%S.%f"


class SqliteConnector(SqlConnector):
    """A SQLite database file."""

    dialect = "sqlite"
    placeholder = "?"
    lock_clause = ""

    _conn: sqlite3.Connection | None = None

    @property
    def path(self) -> str:
        """Filesystem path of the database (``:memory:`` when none)."""
        return make_url(self.profile.url.get_secret_value()).database or ":memory:"

    def _connect(self) -> None:
        # autocommit mode: transactions are opened explicitly so reads and writes are bracketed alike
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)

    @property
    def conn(self) -> sqlite3.Connection:
        """The open connection (opened on first use)."""
        return self._connection()

    def _to_param(self, logical: str, value: Any) -> Any:
        if value is None:
            return None
        if logical == "timestamptz" and isinstance(value, datetime):
            aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
            return aware.strftime(_TS) + "+00:00"
        if isinstance(value, datetime):
            return value.strftime(_TS)
        if isinstance(value, time):
            return value.strftime("%H:%M:%S.%f")
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, bool):
            return int(value)
        return value

    def _converts(self, logical: str) -> bool:
        # integers, floats, text and bytes bind as they are; only these become canonical text
        return logical in ("timestamp", "timestamptz", "date", "time", "bool") or logical.startswith(
            "decimal"
        )

    def _from_db(self, logical: str, value: Any) -> Any:
        if value is None or not isinstance(value, str):
            if logical.startswith("decimal") and isinstance(value, float):
                return repr(value)  # NUMERIC affinity stored it as REAL; repr is the shortest exact text
            return value
        if logical == "timestamptz":
            return datetime.fromisoformat(value).astimezone(UTC)
        if logical == "timestamp":
            return datetime.fromisoformat(value)
        if logical == "date":
            return date.fromisoformat(value)
        if logical == "time":
            return time.fromisoformat(value)
        return value

    def _list_tables(self) -> list[str]:
        rows = self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()
        return [r[0] for r in rows]

    def _describe(self, table: str) -> TableSchema | None:
        rows = self.conn.execute(f"PRAGMA table_info({self.quote(table)})").fetchall()
        if not rows:
            return None
        pk = [r[1] for r in sorted((r for r in rows if r[5]), key=lambda r: r[5])]
        columns = tuple(
            ColumnSchema(
                name=name, type=logical_from_sqlite(declared), nullable=not notnull and name not in pk
            )
            for _, name, declared, notnull, _, _ in rows
        )
        return TableSchema(table=table, columns=columns, primary_key=tuple(pk))

    def _stream(
        self, sql: str, params: Sequence[Any], *, batch_rows: int, timeout_s: int | None
    ) -> Iterator[list]:
        conn = self.conn
        if timeout_s:
            deadline = _time.monotonic() + timeout_s
            conn.set_progress_handler(lambda: int(_time.monotonic() > deadline), 10_000)
        conn.execute("PRAGMA query_only = ON")
        try:
            conn.execute("BEGIN")
            cur = conn.execute(sql, list(params))
            while rows := cur.fetchmany(batch_rows):
                yield rows
            cur.close()
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.execute("PRAGMA query_only = OFF")
            conn.set_progress_handler(None, 0)

    def _query_columns(self, sql: str) -> list[tuple[str, str]]:
        # SQLite does not report the declared types of a query's result columns, so a query's
        # schema cannot be typed reliably; sync the table itself, or from PostgreSQL/MariaDB.
        raise InvalidInputError(
            f"connection {self.profile.name!r}: query sources are not supported on SQLite; "
            "sync the table itself and filter it with a transform",
            connection=self.profile.name,
        )

    def _execute_ddl(self, sql: str) -> None:
        self.conn.execute(sql)

    def _upsert(self, *, schema: TableSchema, table: str, rows: list[tuple], key: Sequence[str]) -> int:
        names = [c.name for c in schema.columns]
        rest = [n for n in names if n not in key]
        cols = ", ".join(self.quote(n) for n in names)
        sql = (
            f"INSERT INTO {self.quote(table)} ({cols}) VALUES ({', '.join('?' for _ in names)}) ON CONFLICT "
        )
        sql += f"({', '.join(self.quote(k) for k in key)}) "
        if rest:
            sets = ", ".join(f"{self.quote(n)} = excluded.{self.quote(n)}" for n in rest)
            differs = " OR ".join(
                f"{self.quote(table)}.{self.quote(n)} IS NOT excluded.{self.quote(n)}" for n in rest
            )
            sql += f"DO UPDATE SET {sets} WHERE {differs}"
        else:
            sql += "DO NOTHING"
        conn = self.conn
        before = conn.total_changes
        with self.write_transaction():
            conn.executemany(sql, rows)
        return conn.total_changes - before

    @contextmanager
    def _begin_write(self) -> Iterator[None]:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _fetch_in_write(self, sql: str, params: Sequence[Any]) -> list[tuple]:
        return list(self.conn.execute(sql, list(params)).fetchall())

    def privileges(self) -> PrivilegeReport:
        """SQLite has no users: whoever can write the file (or its directory) can write."""
        path = self.path
        reasons = []
        if path == ":memory:":
            reasons.append("in-memory database")
        elif os.access(path, os.W_OK):
            reasons.append(f"file {path} is writable")
        elif os.access(os.path.dirname(path) or ".", os.W_OK):
            reasons.append(f"directory of {path} is writable")
        return PrivilegeReport(
            connection=self.profile.name,
            user=str(os.getuid()),
            can_write=bool(reasons),
            reasons=tuple(reasons),
        )
