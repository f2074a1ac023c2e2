"""MySQL / MariaDB connector on pymysql: unbuffered (SSCursor) streaming, ON DUPLICATE KEY upserts."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pymysql
import pymysql.cursors
from pymysql.constants import FIELD_TYPE
from sqlalchemy.engine import make_url

from activities.sql.connector import SqlConnector
from activities.sql.models import PrivilegeReport
from activities.sql.typemap import logical_from_mysql
from workflows.types import ColumnSchema, TableSchema

__all__ = ["MySqlConnector"]

_COLUMNS = """
SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE = 'YES', COLUMN_KEY = 'PRI'
FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s
ORDER BY ORDINAL_POSITION
"""
_PK = """
SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND CONSTRAINT_NAME = 'PRIMARY'
ORDER BY ORDINAL_POSITION
"""
# MariaDB stores JSON as LONGTEXT guarded by a json_valid() check named after the column
_JSON_CHECKS = """
SELECT CONSTRAINT_NAME FROM information_schema.CHECK_CONSTRAINTS
WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = %s AND CHECK_CLAUSE LIKE 'json_valid(%%'
"""
_TABLES = """
SELECT TABLE_NAME FROM information_schema.TABLES
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME
"""
_WRITE_GRANT = re.compile(
    r"\b(ALL PRIVILEGES|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|INDEX|FILE|SUPER|EXECUTE|CREATE ROUTINE"
    r"|ALTER ROUTINE|EVENT|TRIGGER|GRANT OPTION|CREATE USER|RELOAD|SHUTDOWN)\b"
)


class MySqlConnector(SqlConnector):
    """A MySQL or MariaDB database reached through pymysql."""

    dialect = "mysql"

    _conn: pymysql.connections.Connection | None = None

    def _connect(self) -> None:
        url = make_url(self.profile.url.get_secret_value())
        # no CLIENT.FOUND_ROWS and no MULTI_STATEMENTS: affected rows must mean "changed", and one
        # execute must never run two statements
        self._conn = pymysql.connect(
            host=url.host or "127.0.0.1",
            port=url.port or 3306,
            user=url.username or "",
            password=url.password or "",
            database=url.database,
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=10,
            init_command="SET time_zone = '+00:00'",
        )

    @property
    def conn(self) -> pymysql.connections.Connection:
        """The open connection (opened on first use)."""
        return self._connection()

    def quote(self, name: str) -> str:
        """Backtick-quote an identifier."""
        return "`" + name.replace("`", "``") + "`"

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())

    def _list_tables(self) -> list[str]:
        return [r[0] for r in self._fetch(_TABLES)]

    def _describe(self, table: str) -> TableSchema | None:
        rows = self._fetch(_COLUMNS, [table])
        if not rows:
            return None
        pk = [r[0] for r in self._fetch(_PK, [table])]
        json_cols = {r[0] for r in self._fetch(_JSON_CHECKS, [table])}
        columns = tuple(
            ColumnSchema(
                name=name,
                type=logical_from_mysql(native, is_json=name in json_cols),
                nullable=bool(nullable) and name not in pk,
            )
            for name, native, nullable, _ in rows
        )
        return TableSchema(table=table, columns=columns, primary_key=tuple(pk))

    @contextmanager
    def _read_only(self, timeout_s: int | None) -> Iterator[pymysql.connections.Connection]:
        """A read-only transaction (and session) with a statement timeout, reset afterwards."""
        conn = self.conn
        with conn.cursor() as setup:
            setup.execute("SET SESSION max_statement_time = %s", [float(timeout_s or 0)])
            # the session too: DDL commits the current transaction implicitly and would escape it
            setup.execute("SET SESSION TRANSACTION READ ONLY")
            setup.execute("START TRANSACTION READ ONLY")
        try:
            yield conn
            conn.commit()
        finally:
            if conn.open:
                conn.rollback()
                with conn.cursor() as reset:
                    reset.execute("SET SESSION TRANSACTION READ WRITE")
                    reset.execute("SET SESSION max_statement_time = 0")

    def _stream(
        self, sql: str, params: Sequence[Any], *, batch_rows: int, timeout_s: int | None
    ) -> Iterator[list]:
        with self._read_only(timeout_s) as conn, conn.cursor(pymysql.cursors.SSCursor) as cur:
            cur.execute(sql, params or None)
            while rows := cur.fetchmany(batch_rows):
                yield list(rows)

    def _query_columns(self, sql: str) -> list[tuple[str, str]]:
        with self._read_only(self.statement_timeout_s) as conn, conn.cursor() as cur:
            cur.execute(f"{sql} LIMIT 0")
            # the description lacks character sets; the result's field packets carry them
            fields = cur._result.fields if cur._result is not None else []
            return [(f.name, logical_from_mysql(_native_type(f))) for f in fields]

    def _execute_ddl(self, sql: str) -> None:
        with self.conn.cursor() as cur:
            cur.execute(sql)

    @contextmanager
    def _begin_write(self) -> Iterator[None]:
        conn = self.conn
        conn.begin()
        try:
            yield
            conn.commit()
        except BaseException:
            conn.rollback()
            raise

    def _fetch_in_write(self, sql: str, params: Sequence[Any]) -> list[tuple]:
        return self._fetch(sql, params)

    def _upsert(self, *, schema: TableSchema, table: str, rows: list[tuple], key: Sequence[str]) -> int:
        names = [c.name for c in schema.columns]
        rest = [n for n in names if n not in key] or list(key)
        row_sql = "(" + ", ".join(["%s"] * len(names)) + ")"
        head = f"INSERT INTO {self.quote(table)} ({', '.join(self.quote(n) for n in names)}) VALUES "
        tail = " ON DUPLICATE KEY UPDATE " + ", ".join(
            f"{self.quote(n)} = VALUES({self.quote(n)})" for n in rest
        )
        key_index = [names.index(k) for k in key]
        key_sql = "(" + ", ".join(self.quote(k) for k in key) + ")"
        key_row = "(" + ", ".join(["%s"] * len(key)) + ")"
        changed = 0
        with self.write_transaction(), self.conn.cursor() as cur:
            for start in range(0, len(rows), 1000):
                chunk = rows[start : start + 1000]
                # affected rows are 1 per insert and 2 per changed row, so count the keys that
                # already exist (locking them, as the upsert would) to tell inserts from updates
                cur.execute(
                    f"SELECT COUNT(*) FROM {self.quote(table)} WHERE {key_sql} IN "
                    f"({', '.join([key_row] * len(chunk))}) FOR UPDATE",
                    [row[i] for row in chunk for i in key_index],
                )
                existing = cur.fetchone()[0]
                affected = cur.execute(head + ", ".join([row_sql] * len(chunk)) + tail, sum(chunk, ()))
                inserted = len(chunk) - existing
                changed += inserted + (affected - inserted) // 2
        return changed

    def privileges(self) -> PrivilegeReport:
        """Parse ``SHOW GRANTS`` for any privilege beyond reading."""
        with self._errors():
            user = self._fetch("SELECT CURRENT_USER()")[0][0]
            grants = [r[0] for r in self._fetch("SHOW GRANTS")]
        reasons = [g for g in grants if _WRITE_GRANT.search(g.split(" TO ")[0].split(" ON ")[0])]
        return PrivilegeReport(
            connection=self.profile.name, user=user, can_write=bool(reasons), reasons=tuple(reasons)
        )


_FIELD_TYPES = {
    FIELD_TYPE.TINY: "tinyint", FIELD_TYPE.SHORT: "smallint", FIELD_TYPE.INT24: "mediumint",
    FIELD_TYPE.LONG: "int", FIELD_TYPE.LONGLONG: "bigint", FIELD_TYPE.FLOAT: "float",
    FIELD_TYPE.DOUBLE: "double", FIELD_TYPE.DATE: "date", FIELD_TYPE.TIME: "time",
    FIELD_TYPE.DATETIME: "datetime", FIELD_TYPE.TIMESTAMP: "timestamp", FIELD_TYPE.YEAR: "year",
    FIELD_TYPE.JSON: "json",
}  # fmt: skip
_TEXTUAL = {
    FIELD_TYPE.VARCHAR: ("varchar", "varbinary"), FIELD_TYPE.VAR_STRING: ("varchar", "varbinary"),
    FIELD_TYPE.STRING: ("char", "binary"), FIELD_TYPE.TINY_BLOB: ("text", "blob"),
    FIELD_TYPE.MEDIUM_BLOB: ("text", "blob"), FIELD_TYPE.LONG_BLOB: ("text", "blob"),
    FIELD_TYPE.BLOB: ("text", "blob"),
}  # fmt: skip
_BINARY_CHARSET = 63
_UNSIGNED_FLAG = 32


def _native_type(field: Any) -> str:
    """A result field packet as the COLUMN_TYPE text ``logical_from_mysql`` reads."""
    unsigned = " unsigned" if field.flags & _UNSIGNED_FLAG else ""
    if field.type_code in (FIELD_TYPE.DECIMAL, FIELD_TYPE.NEWDECIMAL):
        # the wire length counts the sign (unless unsigned) and the decimal point
        precision = field.length - (1 if field.scale else 0) - (0 if unsigned else 1)
        return f"decimal({precision},{field.scale}){unsigned}"
    if field.type_code == FIELD_TYPE.TINY:
        return f"tinyint({field.length}){unsigned}"
    if field.type_code in _TEXTUAL:
        text, binary = _TEXTUAL[field.type_code]
        return binary if field.charsetnr == _BINARY_CHARSET else text
    return _FIELD_TYPES.get(field.type_code, "text") + unsigned
