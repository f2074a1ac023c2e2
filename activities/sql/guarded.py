"""Compare-and-set writes: read rows under a write lock, then upsert in the same transaction.

The bidirectional sync (3.4.3) must not overwrite a row a user changed after the round read
it. It reads the target rows with :meth:`GuardedWrites.locked_rows` inside
:meth:`GuardedWrites.write_transaction`, keeps only the rows still as read, and upserts them with
the connector's ordinary ``load``, which joins the open transaction: no other writer can change
a locked row between the check and the write.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, ClassVar, Protocol

import pyarrow as pa

from activities.sql.values import rows_to_batch
from workflows.types import TableSchema

_KEYS_PER_STATEMENT = 1000


class _Connector(Protocol):
    """What the mixin uses of its connector (mypy's documented pattern for mixins)."""

    placeholder: ClassVar[str]
    lock_clause: ClassVar[str]
    _write_depth: int

    def quote(self, name: str) -> str: ...
    def _check_name(self, name: str, *, what: str = ...) -> str: ...
    def _errors(self, table: str | None = None) -> AbstractContextManager[Any]: ...
    def _begin_write(self) -> AbstractContextManager[None]: ...
    def _fetch_in_write(self, sql: str, params: Sequence[Any]) -> list[tuple]: ...
    def _select_expr(self, logical: str, column: str) -> str: ...
    def _from_db(self, logical: str, value: Any) -> Any: ...
    def _param_rows(self, schema: TableSchema, data: pa.Table) -> list[tuple]: ...


class GuardedWrites(ABC):
    """Mixin of :class:`activities.sql.connector.SqlConnector`; dialects supply the two hooks."""

    lock_clause: ClassVar[str] = " FOR UPDATE"
    """Appended to the keyed SELECT (SQLite: empty, ``BEGIN IMMEDIATE`` already holds the write lock)."""
    _write_depth: int = 0

    @abstractmethod
    def _begin_write(self) -> AbstractContextManager[None]:
        """Open a write transaction, commit it on exit (roll it back on an error)."""

    @abstractmethod
    def _fetch_in_write(self, sql: str, params: Sequence[Any]) -> list[tuple]:
        """Run a SELECT inside the open write transaction and return its rows."""

    @contextmanager
    def write_transaction(self: _Connector) -> Iterator[None]:
        """One write transaction; writes inside it (``load``) join it instead of committing alone."""
        if self._write_depth:
            yield
            return
        self._write_depth += 1
        try:
            with self._errors(), self._begin_write():
                yield
        finally:
            self._write_depth -= 1

    def locked_rows(self: _Connector, schema: TableSchema, batch: pa.Table, *, table: str) -> pa.Table:
        """The rows of ``table`` whose keys are in ``batch``, locked until the transaction ends.

        Call it inside :meth:`write_transaction`; ``batch`` has ``schema``'s columns.
        """
        name = self._check_name(table)
        key = list(schema.primary_key)
        names = [c.name for c in schema.columns]
        index = [names.index(k) for k in key]
        cols = ", ".join(self._select_expr(c.type, c.name) for c in schema.columns)
        key_sql = "(" + ", ".join(self.quote(k) for k in key) + ")"
        one = "(" + ", ".join([self.placeholder] * len(key)) + ")"
        params = self._param_rows(schema, batch.select(names))
        rows: list[tuple] = []
        with self._errors(name):
            for start in range(0, len(params), _KEYS_PER_STATEMENT):
                chunk = params[start : start + _KEYS_PER_STATEMENT]
                sql = (
                    f"SELECT {cols} FROM {self.quote(name)} WHERE {key_sql} IN "
                    f"({', '.join([one] * len(chunk))}){self.lock_clause}"
                )
                rows.extend(self._fetch_in_write(sql, [row[i] for row in chunk for i in index]))
        return pa.Table.from_batches([rows_to_batch(rows, schema, self._from_db)])
