"""User SQL on a connection: ad-hoc read-only queries, and named queries used as sync sources.

A named query is read exactly like a table: the keyset read wraps it as a common table
expression (``WITH "name" AS (<query>) SELECT ... FROM "name" WHERE <keyset> ORDER BY <key>``),
so pagination, resume positions and incremental cursors work unchanged. Every query passes
the statement gate first and then runs inside the read-only transaction of the read path.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Protocol

import pyarrow as pa

from activities.connections import ConnectionProfile
from activities.errors import InvalidInputError
from activities.sql.readonly import check_read_only
from activities.sql.values import infer_array
from workflows.types import ColumnSchema, TableSchema


class _Connector(Protocol):
    """What the mixin uses of its connector (mypy's documented pattern for mixins)."""

    dialect: ClassVar[str]
    profile: ConnectionProfile
    statement_timeout_s: ClassVar[int]
    _queries: dict[str, str]

    def quote(self, name: str) -> str: ...
    def _check_name(self, name: str, *, what: str = ...) -> str: ...
    def _errors(self, table: str | None = None) -> AbstractContextManager[Any]: ...
    def _query_columns(self, sql: str) -> list[tuple[str, str]]: ...
    def _query_unchecked(
        self, sql: str, *, batch_rows: int, timeout_s: int | None
    ) -> Iterator[pa.RecordBatch]: ...
    def _stream(
        self, sql: str, params: Sequence[Any], *, batch_rows: int, timeout_s: int | None
    ) -> Iterator[list[Any]]: ...


class QuerySources:
    """Mixin of :class:`~activities.sql.connector.SqlConnector` for SQL written by users."""

    _queries: dict[str, str]

    def query(
        self: _Connector, sql: str, *, batch_rows: int = 50_000, timeout_s: int | None = None
    ) -> Iterator[pa.RecordBatch]:
        """Run user SQL through the read-only gate, in a read-only transaction with a timeout.

        Column types are inferred by Arrow from the values, since user SQL has no declared schema.
        """
        check_read_only(sql, dialect=self.dialect)
        yield from self._query_unchecked(sql, batch_rows=batch_rows, timeout_s=timeout_s)

    def _query_unchecked(
        self: _Connector, sql: str, *, batch_rows: int, timeout_s: int | None
    ) -> Iterator[pa.RecordBatch]:
        with self._errors():
            for rows in self._stream(
                sql, [], batch_rows=batch_rows, timeout_s=timeout_s or self.statement_timeout_s
            ):
                columns = list(zip(*rows, strict=True))
                names = [f"c{i}" for i in range(len(columns))]
                yield pa.RecordBatch.from_arrays([infer_array(list(c)) for c in columns], names=names)

    def define_query(self: _Connector, name: str, sql: str, *, key: Sequence[str]) -> TableSchema:
        """Register ``sql`` under ``name`` so :meth:`extract` can read it like a table.

        Args:
            name: The name the query's rows go by (the default destination table).
            sql: One read-only SELECT; refused by the statement gate otherwise.
            key: Columns of the result that identify a row (keyset order and upsert key).

        Returns:
            The result's schema, typed from the database's own description of the columns.

        Raises:
            ReadOnlyViolationError: The SQL could write, or is not exactly one statement.
            InvalidInputError: No key, or a key column the query does not return.
        """
        check_read_only(sql, dialect=self.dialect)
        name = self._check_name(name, what="query name")
        if not key:
            raise InvalidInputError(
                f"query {name!r} needs a key: the columns that identify a row", connection=self.profile.name
            )
        body = sql.strip().rstrip(";").strip()
        with self._errors(name):
            described = self._query_columns(
                f"WITH {self.quote(name)} AS (\n{body}\n) SELECT * FROM {self.quote(name)}"
            )
        names = [n for n, _ in described]
        for column in key:
            if column not in names:
                raise InvalidInputError(
                    f"query {name!r} does not return key column {column!r}; it returns {names}",
                    connection=self.profile.name,
                    column=column,
                )
        self._queries[name] = body
        columns = tuple(ColumnSchema(name=n, type=t, nullable=n not in key) for n, t in described)
        return TableSchema(table=name, columns=columns, primary_key=tuple(key))

    def _with_query(self: _Connector, table: str) -> str:
        """The CTE prefix that makes a registered query readable under its name ('' for tables)."""
        body = self._queries.get(table)
        return "" if body is None else f"WITH {self.quote(table)} AS (\n{body}\n) "
