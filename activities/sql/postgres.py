"""PostgreSQL connector on psycopg 3: CSV COPY straight into and out of Arrow, COPY-staged upserts."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

import psycopg
import pyarrow as pa
from psycopg import sql as pgsql
from sqlalchemy.engine import make_url

from activities.sql.connector import SqlConnector
from activities.sql.models import PrivilegeReport
from activities.sql.pgcopy import COPY_SESSION, batch_to_csv, csv_to_batch, supports_csv
from activities.sql.typemap import logical_from_postgres
from workflows.types import ColumnSchema, TableSchema

__all__ = ["PostgresConnector"]

_COPY_CHUNK = 1 << 20

_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       coalesce(array_position(i.indkey::int2[], a.attnum) + 1, 0)
FROM pg_attribute a
LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""
_TABLES = """
SELECT c.relname FROM pg_class c
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
ORDER BY c.relname
"""
_PRIVILEGES = """
SELECT r.rolname, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls,
  ARRAY(SELECT b.rolname FROM pg_roles b
        WHERE b.oid <> r.oid AND pg_has_role(r.oid, b.oid, 'USAGE')
          AND (b.rolsuper OR b.rolname IN ('pg_write_all_data', 'pg_write_server_files',
                                           'pg_execute_server_program', 'pg_signal_backend')))
    AS powerful_roles,
  ARRAY(SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND has_table_privilege(c.oid, 'SELECT')
          AND has_table_privilege(c.oid, 'INSERT,UPDATE,DELETE,TRUNCATE') LIMIT 20) AS writable,
  ARRAY(SELECT n.nspname FROM pg_namespace n
        WHERE n.nspname NOT LIKE 'pg\\_%%' AND n.nspname <> 'information_schema'
          AND has_schema_privilege(n.oid, 'CREATE')) AS creatable,
  has_database_privilege(current_database(), 'TEMP') AS temp
FROM pg_roles r WHERE r.rolname = current_user
"""


class PostgresConnector(SqlConnector):
    """A PostgreSQL database reached through psycopg 3."""

    dialect = "postgresql"

    _conn: psycopg.Connection[Any] | None = None

    def _connect(self) -> None:
        url = make_url(self.profile.url.get_secret_value())
        self._conn = psycopg.connect(
            host=url.host or "127.0.0.1",
            port=url.port or 5432,
            user=url.username,
            password=url.password,
            dbname=url.database,
            connect_timeout=10,
            autocommit=True,
            options="-c TimeZone=UTC -c DateStyle=ISO",
        )

    @property
    def conn(self) -> psycopg.Connection[Any]:
        """The open connection (opened on first use)."""
        return self._connection()

    def _select_expr(self, logical: str, column: str) -> str:
        # json/jsonb would be decoded into Python objects; text keeps the original document
        return f"{self.quote(column)}::text" if logical == "json" else self.quote(column)

    def _list_tables(self) -> list[str]:
        return [r[0] for r in self.conn.execute(_TABLES).fetchall()]

    def _describe(self, table: str) -> TableSchema | None:
        rows = self.conn.execute(_COLUMNS, [self.quote(table)]).fetchall()
        if not rows:
            return None
        pk = [name for name, _, _, pos in sorted((r for r in rows if r[3]), key=lambda r: r[3])]
        columns = tuple(
            ColumnSchema(
                name=name, type=logical_from_postgres(native), nullable=bool(nullable) and name not in pk
            )
            for name, native, nullable, _ in rows
        )
        return TableSchema(table=table, columns=columns, primary_key=tuple(pk))

    def _stream(
        self, sql: str, params: Sequence[Any], *, batch_rows: int, timeout_s: int | None
    ) -> Iterator[list]:
        conn = self.conn
        conn.read_only = True
        try:
            with conn.transaction():
                if timeout_s:
                    conn.execute(pgsql.SQL("SET LOCAL statement_timeout = {}").format(timeout_s * 1000))
                # a client cursor in chunked-rows mode, not DECLARE: any statement reaches the server
                # inside the read-only transaction, which is the layer that must refuse writes
                with conn.cursor() as cur:
                    batch: list[tuple[Any, ...]] = []
                    for row in cur.stream(sql, params or None, size=min(batch_rows, 10_000)):
                        batch.append(row)
                        if len(batch) >= batch_rows:
                            yield batch
                            batch = []
                    if batch:
                        yield batch
        finally:
            conn.read_only = False

    def _query_columns(self, sql: str) -> list[tuple[str, str]]:
        conn = self.conn
        conn.read_only = True
        try:
            with conn.transaction(), conn.cursor() as cur:
                conn.execute(
                    pgsql.SQL("SET LOCAL statement_timeout = {}").format(self.statement_timeout_s * 1000)
                )
                cur.execute(f"{sql} LIMIT 0")
                described = [(c.name, c.type_code, c.precision, c.scale) for c in cur.description or ()]
                oids = [oid for _, oid, _, _ in described]
                cur.execute("SELECT oid, format_type(oid, NULL) FROM pg_type WHERE oid = ANY(%s)", [oids])
                names = dict(cur.fetchall())
        finally:
            conn.read_only = False
        out = []
        for name, oid, precision, scale in described:
            native = names[oid]
            if native == "numeric" and precision is not None:
                native = f"numeric({precision},{scale or 0})"
            out.append((name, logical_from_postgres(native)))
        return out

    def _execute_ddl(self, sql: str) -> None:
        self.conn.execute(sql)

    def _begin_write(self) -> AbstractContextManager[None]:
        # the upsert's own conn.transaction() nests as a savepoint inside this one
        return self.conn.transaction()  # type: ignore[return-value]

    def _fetch_in_write(self, sql: str, params: Sequence[Any]) -> list[tuple]:
        return list(self.conn.execute(sql, params).fetchall())

    def _read_batches(
        self,
        *,
        schema: TableSchema,
        order_by: Sequence[str],
        after: Sequence[Any] | None,
        since: Any | None,
        since_column: str | None,
        batch_rows: int,
    ) -> Iterator[pa.RecordBatch]:
        if not supports_csv(schema):
            yield from super()._read_batches(
                schema=schema, order_by=order_by, after=after, since=since, since_column=since_column,
                batch_rows=batch_rows,
            )  # fmt: skip
            return
        conn = self.conn
        conn.read_only = True
        try:
            with conn.transaction():
                for statement in COPY_SESSION:
                    conn.execute(statement)
                # one COPY per page: a page ends on a row boundary known to Arrow, and the next page
                # starts strictly after the last key exactly as a resumed activity would
                position = after
                while True:
                    sql, params = self._keyset_query(
                        schema, order_by, after=position, since=since, since_column=since_column
                    )
                    batch = csv_to_batch(self._copy_out(f"{sql} LIMIT {int(batch_rows)}", params), schema)
                    if batch.num_rows:
                        yield batch
                    if batch.num_rows < batch_rows:
                        return
                    position = self.position_of(batch, order_by)
        finally:
            conn.read_only = False

    def _copy_out(self, sql: str, params: Sequence[Any]) -> bytes:
        with (
            self.conn.cursor() as cur,
            cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)", params or None) as copy,
        ):
            return b"".join(copy)

    def _load_table(self, *, schema: TableSchema, table: str, data: pa.Table, key: list[str]) -> int:
        if not supports_csv(schema):
            return super()._load_table(schema=schema, table=table, data=data, key=key)
        payload = memoryview(batch_to_csv(data))

        def fill(copy: psycopg.Copy) -> None:
            for start in range(0, len(payload), _COPY_CHUNK):
                copy.write(payload[start : start + _COPY_CHUNK])

        return self._stage_and_upsert(schema=schema, table=table, key=key, fill=fill, options=" (FORMAT csv)")

    def _upsert(self, *, schema: TableSchema, table: str, rows: list[tuple], key: Sequence[str]) -> int:
        def fill(copy: psycopg.Copy) -> None:
            for row in rows:
                copy.write_row(row)

        return self._stage_and_upsert(schema=schema, table=table, key=key, fill=fill, options="")

    def _stage_and_upsert(
        self,
        *,
        schema: TableSchema,
        table: str,
        key: Sequence[str],
        fill: Callable[[psycopg.Copy], None],
        options: str,
    ) -> int:
        """COPY into a temporary staging table, then upsert only rows that differ (R8)."""
        names = [c.name for c in schema.columns]
        cols = ", ".join(self.quote(n) for n in names)
        rest = [n for n in names if n not in key]
        stage = self.quote(f"vsc_stage_{uuid.uuid4().hex[:16]}")
        upsert = f"INSERT INTO {self.quote(table)} ({cols}) SELECT {cols} FROM {stage} ON CONFLICT "
        upsert += f"({', '.join(self.quote(k) for k in key)}) "
        if rest:
            target = ", ".join(f"{self.quote(table)}.{self.quote(n)}" for n in rest)
            excluded = ", ".join(f"EXCLUDED.{self.quote(n)}" for n in rest)
            sets = ", ".join(f"{self.quote(n)} = EXCLUDED.{self.quote(n)}" for n in rest)
            upsert += f"DO UPDATE SET {sets} WHERE ROW({target}) IS DISTINCT FROM ROW({excluded})"
        else:
            upsert += "DO NOTHING"
        with self.conn.transaction():
            like = f"SELECT {cols} FROM {self.quote(table)} WITH NO DATA"
            self.conn.execute(f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS {like}")
            with self.conn.cursor() as cur:
                with cur.copy(f"COPY {stage} ({cols}) FROM STDIN{options}") as copy:
                    fill(copy)
                cur.execute(upsert)
                return max(cur.rowcount, 0)

    def privileges(self) -> PrivilegeReport:
        """Superuser/role attributes, powerful role memberships and writable tables."""
        with self._errors():
            user, sup, createrole, createdb, bypass, powerful, writable, creatable, temp = self.conn.execute(
                _PRIVILEGES
            ).fetchone()  # type: ignore[misc]
        reasons = [
            *(["superuser"] if sup else []),
            *(["can create roles"] if createrole else []),
            *(["can create databases"] if createdb else []),
            *(["bypasses row-level security"] if bypass else []),
            *(f"member of {r}" for r in powerful),
            *(f"can write {t}" for t in writable),
            *(f"can create in schema {s}" for s in creatable),
            *(["can create temporary tables"] if temp else []),
        ]
        return PrivilegeReport(
            connection=self.profile.name, user=user, can_write=bool(reasons), reasons=tuple(reasons)
        )
