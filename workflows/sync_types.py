"""Inputs, state and results of the table-sync workflows (Patterns 3.1.1 and 3.3.1).

A workflow takes plain JSON (so the stock ``temporal workflow start --input`` works) and
validates it into these models itself: a bad input then fails the run with a readable,
non-retryable error instead of wedging the workflow task.
"""

from __future__ import annotations

from typing import Any, Literal

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


ControlScope = Literal["tenant", "connection", "agent", "execution"]


class ControlSignal(Frozen):
    """Argument of the ``pause`` and ``resume`` signals: which control flag flipped.

    The console signals every running run of the tenant; each run decides from its own input
    whether the flag concerns it. ``execution`` scope is a pause of this one run.
    """

    scope: ControlScope = "execution"
    name: str = Field(default="", max_length=200)
    """Connection name or agent (group) id; empty for the ``tenant`` and ``execution`` scopes."""
    reason: str = Field(default="", max_length=500)


class WorkflowEvent(Frozen):
    """Argument of the ``event`` signal: something happened upstream (a webhook delivery, ...)."""

    source: str = Field(min_length=1, max_length=200)
    """Who sent it, e.g. ``webhook:<hook_id>``."""
    delivery_id: str = Field(min_length=1, max_length=200)
    payload: dict[str, Any] = {}


class RunControls(Frozen):
    """Pauses and events of a run: carried across continue-as-new, shown by the ``progress`` query."""

    holds: tuple[ControlSignal, ...] = ()
    """Pause signals not yet resumed (any scope; only those that concern the run hold it)."""
    paused: bool = False
    """True while the run waits for its pauses to be lifted."""
    paused_by: tuple[str, ...] = ()
    """What holds it, e.g. ``connection:erp``."""
    events: int = 0
    """Events received by this run and the runs it continued from."""
    last_delivery_id: str | None = None
    last_event_source: str | None = None
    rerun: bool = False
    """An event arrived after this pass began reading: one more pass follows it."""
    passes: int = 0
    """Extra passes already run because of events."""


class SyncState(Frozen):
    """Everything a sync carries across continue-as-new, in one piece."""

    table_index: int = 0
    done: tuple[TableResult, ...] = ()
    current: TableResult | None = None
    after: tuple[Any, ...] | None = None
    since: Any = None
    buffer_seq: int = 0
    continued: int = 0
    controls: RunControls = RunControls()


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
