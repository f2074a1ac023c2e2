"""The one interface every SQL connector implements, and the parts all dialects share.

Dialect modules supply connecting, catalogue queries, streaming in a read-only transaction and
the upsert statement; everything that must behave identically everywhere (keyset SQL, JSON
positions, schema checks, the write gate, fingerprints) lives here once.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any, ClassVar

import pyarrow as pa

from activities.connections import ConnectionProfile
from activities.errors import InvalidInputError, SchemaMismatchError, TableNotFoundError, WriteNotGrantedError
from activities.fingerprints import fingerprint_batches, json_columns_of
from activities.sql.errors import ARROW_ERRORS, ColumnValueError, arrow_errors, db_errors
from activities.sql.guarded import GuardedWrites
from activities.sql.models import PrivilegeReport
from activities.sql.query_source import QuerySources
from activities.sql.typemap import ddl_type, is_compatible
from activities.sql.values import from_json_value, rows_to_batch, to_json_value
from workflows.types import Fingerprint, TableSchema

__all__ = ["SqlConnector", "open_connector"]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")


class SqlConnector(QuerySources, GuardedWrites, ABC):
    """A connection to one database named by a profile; use it as a context manager.

    Args:
        profile: Which database, with which credential and write grant.
    """

    dialect: ClassVar[str]
    placeholder: ClassVar[str] = "%s"
    statement_timeout_s: ClassVar[int] = 300

    def __init__(self, profile: ConnectionProfile) -> None:
        self.profile = profile
        self._queries = {}
        self._conn: Any = None

    def __enter__(self) -> SqlConnector:
        with self._errors():
            self._connect()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ----- dialect hooks -----

    @abstractmethod
    def _connect(self) -> None:
        """Open the driver connection (called lazily by ``__enter__``)."""

    def _connection(self) -> Any:
        """The driver connection, opened on first use (dialects type it in their ``conn``)."""
        if self._conn is None:
            with self._errors():
                self._connect()
        return self._conn

    def close(self) -> None:
        """Close the driver connection; safe to call twice."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def quote(self, name: str) -> str:
        """Double-quote an identifier (SQL standard; MariaDB overrides it with backticks)."""
        return '"' + name.replace('"', '""') + '"'

    @abstractmethod
    def _list_tables(self) -> list[str]:
        """Base tables visible in the connection's default schema."""

    @abstractmethod
    def _describe(self, table: str) -> TableSchema | None:
        """The logical schema of ``table``, or None if it does not exist."""

    @abstractmethod
    def _stream(
        self, sql: str, params: Sequence[Any], *, batch_rows: int, timeout_s: int | None
    ) -> Iterator[list]:
        """Run ``sql`` in a read-only transaction and yield lists of row tuples, streaming."""

    @abstractmethod
    def _upsert(self, *, schema: TableSchema, table: str, rows: list[tuple], key: Sequence[str]) -> int:
        """Upsert ``rows`` in one transaction; return rows inserted or changed."""

    @abstractmethod
    def _query_columns(self, sql: str) -> list[tuple[str, str]]:
        """Names and logical types of ``sql``'s result columns, read-only, without fetching rows."""

    @abstractmethod
    def _execute_ddl(self, sql: str) -> None:
        """Run one DDL statement and commit it."""

    @abstractmethod
    def privileges(self) -> PrivilegeReport:
        """Whether the database user could write anywhere it can read."""

    def _select_expr(self, logical: str, column: str) -> str:
        """Select-list expression for a column (dialects override to cast e.g. json to text)."""
        return self.quote(column)

    def _to_param(self, logical: str, value: Any) -> Any:
        """A Python value as the driver should bind it (SQLite overrides: it stores text)."""
        return value

    def _from_db(self, logical: str, value: Any) -> Any:
        """A driver value decoded before Arrow coercion (SQLite overrides: it reads text)."""
        return value

    # ----- shared behaviour -----

    def _errors(self, table: str | None = None) -> Any:
        return db_errors(connection=self.profile.name, table=table, secret=self.profile.password())

    def _check_name(self, name: str, *, what: str = "table") -> str:
        if not _IDENT.match(name):
            raise InvalidInputError(
                f"connection {self.profile.name!r}: {what} name {name!r} is not a plain identifier",
                connection=self.profile.name,
                **{what: name},
            )
        return name

    def discover(self, tables: Sequence[str] | None = None) -> list[TableSchema]:
        """Schemas of ``tables`` (all base tables when None), in the order asked."""
        if tables is None:
            with self._errors():
                tables = self._list_tables()
        return [self.table_schema(t) for t in tables]

    def table_schema(self, table: str) -> TableSchema:
        """Logical schema of one table.

        Raises:
            TableNotFoundError: The table does not exist for this connection.
        """
        self._check_name(table)
        with self._errors(table):
            found = self._describe(table)
        if found is None:
            raise TableNotFoundError(
                f"connection {self.profile.name!r}: table {table!r} does not exist",
                connection=self.profile.name,
                table=table,
            )
        return found

    def _keyset_sql(
        self,
        schema: TableSchema,
        order_by: Sequence[str],
        *,
        after: Sequence[Any] | None,
        since_column: str | None,
    ) -> tuple[str, list[str]]:
        cols = ", ".join(self._select_expr(c.type, c.name) for c in schema.columns)
        where, bound = [], []
        if since_column is not None:
            where.append(f"{self.quote(since_column)} >= {self.placeholder}")
            bound.append(since_column)
        if after is not None:
            lhs = ", ".join(self.quote(c) for c in order_by)
            rhs = ", ".join(self.placeholder for _ in order_by)
            where.append(f"({lhs}) > ({rhs})")
            bound.extend(order_by)
        sql = f"SELECT {cols} FROM {self.quote(schema.table)}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY " + ", ".join(self.quote(c) for c in order_by)
        return sql, bound

    def extract(
        self,
        *,
        schema: TableSchema,
        order_by: Sequence[str],
        after: Sequence[Any] | None = None,
        since: Any | None = None,
        since_column: str | None = None,
        batch_rows: int = 50_000,
    ) -> Iterator[pa.RecordBatch]:
        """Stream rows ordered by ``order_by``, strictly after ``after``, in typed batches.

        Args:
            schema: Logical schema of the source table; batches follow its Arrow schema.
            order_by: Keyset columns: the primary key, or ``(cursor_column, *pk)`` for incremental.
            after: A position from :meth:`position_of` (JSON values accepted) to resume after.
            since: Lower bound (inclusive) of ``since_column`` for an incremental read.
            since_column: The incremental cursor column.
            batch_rows: Rows per yielded batch; memory stays bounded by it.
        """
        for name in (*order_by, *([since_column] if since_column else [])):
            if schema.column(name) is None:
                raise InvalidInputError(
                    f"connection {self.profile.name!r}: table {schema.table!r} has no column {name!r}",
                    connection=self.profile.name,
                    table=schema.table,
                    column=name,
                )
        if after is not None and len(after) != len(order_by):
            raise InvalidInputError("position and order_by differ in length", connection=self.profile.name)
        with_since = since_column if since is not None else None
        with self._errors(schema.table), self._value_errors(schema.table, [c.name for c in schema.columns]):
            yield from self._read_batches(
                schema=schema, order_by=order_by, after=after, since=since, since_column=with_since,
                batch_rows=batch_rows,
            )  # fmt: skip

    def _keyset_query(
        self,
        schema: TableSchema,
        order_by: Sequence[str],
        *,
        after: Sequence[Any] | None,
        since: Any | None,
        since_column: str | None,
    ) -> tuple[str, list[Any]]:
        """The keyset SELECT and its bound parameters (JSON position values decoded)."""
        sql, bound = self._keyset_sql(schema, order_by, after=after, since_column=since_column)
        sql = self._with_query(schema.table) + sql
        values = ([since] if since_column else []) + list(after or [])
        return sql, [self._bind(schema, name, value) for name, value in zip(bound, values, strict=True)]

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
        """Typed batches of the keyset read (PostgreSQL overrides it with COPY into Arrow)."""
        sql, params = self._keyset_query(
            schema, order_by, after=after, since=since, since_column=since_column
        )
        for rows in self._stream(sql, params, batch_rows=batch_rows, timeout_s=None):
            yield rows_to_batch(rows, schema, self._from_db)

    def _value_errors(self, table: str, columns: Sequence[str]) -> Any:
        return arrow_errors(connection=self.profile.name, table=table, columns=columns)

    def _bind(self, schema: TableSchema, column: str, value: Any) -> Any:
        logical = schema.column(column).type  # type: ignore[union-attr]
        return self._to_param(logical, from_json_value(logical, value))

    @staticmethod
    def position_of(batch: pa.RecordBatch | pa.Table, order_by: Sequence[str]) -> list[Any]:
        """The last row's ``order_by`` values as JSON-safe values, for heartbeats and resume."""
        if batch.num_rows == 0:
            raise InvalidInputError("an empty batch has no position")
        out = []
        for name in order_by:
            field = batch.schema.field(name)
            value = batch.column(name)[batch.num_rows - 1].as_py()
            tz_aware = pa.types.is_timestamp(field.type) and field.type.tz is not None
            out.append(to_json_value("timestamptz" if tz_aware else "", value))
        return out

    def _require_write(self, table: str) -> None:
        if not self.profile.write:
            raise WriteNotGrantedError(
                f"connection {self.profile.name!r} is not granted write; refusing to write table {table!r}",
                connection=self.profile.name,
                table=table,
            )

    def ensure_table(self, schema: TableSchema, *, table: str | None = None) -> None:
        """Create the destination table if missing, else check it can take every source column.

        Raises:
            WriteNotGrantedError: The profile is not granted write.
            SchemaMismatchError: A source column is missing or of an incompatible type.
        """
        name = self._check_name(table or schema.table)
        self._require_write(name)
        with self._errors(name):
            existing = self._describe(name)
        if existing is None:
            cols = [
                f"{self.quote(c.name)} {ddl_type(c.type, self.dialect, key=c.name in schema.primary_key)}"
                + ("" if c.nullable and c.name not in schema.primary_key else " NOT NULL")
                for c in schema.columns
            ]
            if schema.primary_key:
                cols.append(f"PRIMARY KEY ({', '.join(self.quote(k) for k in schema.primary_key)})")
            with self._errors(name):
                self._execute_ddl(f"CREATE TABLE {self.quote(name)} ({', '.join(cols)})")
            return
        for column in schema.columns:
            dest = existing.column(column.name)
            dest_type = dest.type if dest else "missing"
            if dest is None or not is_compatible(column.type, dest.type):
                raise SchemaMismatchError(
                    f"connection {self.profile.name!r}: table {name!r} column {column.name!r} is {dest_type} "
                    f"in the destination but {column.type} in the source",
                    connection=self.profile.name,
                    table=name,
                    column=column.name,
                    source_type=column.type,
                    dest_type=dest_type,
                )

    def load(
        self,
        *,
        schema: TableSchema,
        batch: pa.RecordBatch | pa.Table,
        key: Sequence[str],
        table: str | None = None,
    ) -> int:
        """Idempotently upsert ``batch`` in one transaction; return rows inserted or changed.

        Loading the same batch twice returns 0 the second time and leaves the table unchanged.

        Raises:
            WriteNotGrantedError: The profile is not granted write (nothing is sent to the database).
        """
        name = self._check_name(table or schema.table)
        self._require_write(name)
        if not key:
            raise InvalidInputError(
                f"table {name!r}: an upsert needs a key", connection=self.profile.name, table=name
            )
        names = [c.name for c in schema.columns]
        data = (
            batch.select(names)
            if isinstance(batch, pa.Table)
            else pa.Table.from_batches([batch]).select(names)
        )
        if data.num_rows == 0:
            return 0
        with self._errors(name), self._value_errors(name, names):
            return self._load_table(schema=schema, table=name, data=data, key=list(key))

    def _load_table(self, *, schema: TableSchema, table: str, data: pa.Table, key: list[str]) -> int:
        """Upsert ``data`` (columns in schema order); PostgreSQL overrides it with CSV COPY."""
        return self._upsert(schema=schema, table=table, rows=self._param_rows(schema, data), key=key)

    def _param_rows(self, schema: TableSchema, data: pa.Table) -> list[tuple]:
        """Driver parameter tuples, converted column by column rather than value by value."""
        columns = []
        for index, column in enumerate(schema.columns):
            try:
                values = data.column(index).to_pylist()
            except ARROW_ERRORS as exc:
                raise ColumnValueError(column.name, str(exc)) from None
            if self._converts(column.type):
                values = [self._to_param(column.type, v) for v in values]
            columns.append(values)
        return list(zip(*columns, strict=True))

    def _converts(self, logical: str) -> bool:
        """Whether :meth:`_to_param` changes values of ``logical`` (False skips the per-value call)."""
        return type(self)._to_param is not SqlConnector._to_param

    def fingerprint(
        self, schema: TableSchema, *, table: str | None = None, batch_rows: int = 50_000
    ) -> Fingerprint:
        """Row count and order-independent content hash, equal for equal data in any dialect."""
        target = schema.model_copy(update={"table": self._check_name(table or schema.table)})
        order = list(schema.primary_key) or [c.name for c in schema.columns]
        batches = self.extract(schema=target, order_by=order, batch_rows=batch_rows)
        return fingerprint_batches(batches, json_columns=json_columns_of(schema))


def open_connector(profile: ConnectionProfile) -> SqlConnector:
    """Pick the connector class for ``profile.kind``; use the result as a context manager."""
    # dialect modules import this one, so they are looked up here rather than at import time
    from activities.sql.mysql import MySqlConnector
    from activities.sql.postgres import PostgresConnector
    from activities.sql.sqlite import SqliteConnector

    kinds: dict[str, type[SqlConnector]] = {
        "postgresql": PostgresConnector,
        "mysql": MySqlConnector,
        "sqlite": SqliteConnector,
    }
    return kinds[profile.kind](profile)
