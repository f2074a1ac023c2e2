"""Inputs, state and results of the table-sync workflows (Patterns 3.1.1 and 3.3.1).

A workflow takes plain JSON (so the stock ``temporal workflow start --input`` works) and
validates it into these models itself: a bad input then fails the run with a readable,
non-retryable error instead of wedging the workflow task.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from workflows.contracts import BatchLimits
from workflows.transform import TransformSpec
from workflows.types import Fingerprint, Frozen, Identifier


class TableSpec(Frozen):
    """One table of a sync."""

    source_table: Identifier
    """The table to read; with ``query``, the name the query's rows go by."""
    destination_table: Identifier | None = None
    incremental_column: Identifier | None = None
    """Cursor column for incremental syncs; None means full refresh (still an idempotent upsert)."""
    transform: TransformSpec | None = None
    query: str | None = Field(default=None, min_length=1, max_length=100_000)
    """A read-only SELECT to read instead of the table; refused unless it is one pure read."""
    key: tuple[Identifier, ...] = ()
    """Columns identifying a row: required with ``query``, else overrides the table's primary key."""

    @model_validator(mode="after")
    def _query_needs_key(self) -> TableSpec:
        if self.query is not None and not self.key:
            raise ValueError(
                f"table {self.source_table!r}: a query source needs `key`, the columns identifying a row"
            )
        return self

    @property
    def target(self) -> str:
        """Destination table name (defaults to the source name)."""
        return self.destination_table or self.source_table


class TableResult(Frozen):
    """What happened to one table."""

    source_table: str
    destination_table: str
    rows_read: int = 0
    rows_written: int = 0
    batches: int = 0
    cursor: Any = None
    source: Fingerprint | None = None
    destination: Fingerprint | None = None

    @property
    def verified(self) -> bool:
        """True when both fingerprints were taken and are equal."""
        return self.source is not None and self.source == self.destination


class SyncState(Frozen):
    """Everything a sync carries across continue-as-new, in one piece."""

    table_index: int = 0
    done: tuple[TableResult, ...] = ()
    current: TableResult | None = None
    after: tuple[Any, ...] | None = None
    since: Any = None
    buffer_seq: int = 0
    continued: int = 0


class SyncInput(Frozen):
    """Input of both table-sync workflows."""

    agent: str = Field(min_length=1)
    """Connector id of the agent (or agent group) that reaches the local endpoints."""
    source_connection: str = Field(min_length=1)
    destination_connection: str = Field(min_length=1)
    tables: tuple[TableSpec, ...] = Field(min_length=1)
    pipeline: str | None = None
    """Name under which incremental cursors are kept; defaults to the workflow id."""
    limits: BatchLimits = BatchLimits()
    verify: bool = True
    """Fingerprint both sides of every table at the end of the run."""
    max_steps_per_run: int = Field(default=500, ge=1)
    """Continue-as-new after this many activity round trips, to keep histories short."""
    state: SyncState = SyncState()


class SyncResult(Frozen):
    """Per-table outcome of a sync run."""

    pattern: str
    tables: tuple[TableResult, ...]

    @property
    def rows_written(self) -> int:
        """Rows inserted or changed over all tables."""
        return sum(t.rows_written for t in self.tables)
