"""Inputs, state and results of the table-sync workflows (Patterns 3.1.1, 3.3.1 and 3.3.2).

A workflow takes plain JSON (so the stock ``temporal workflow start --input`` works) and
validates it into these models itself: a bad input then fails the run with a readable,
non-retryable error instead of wedging the workflow task.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from workflows.contracts import BatchLimits
from workflows.transform import TransformSpec
from workflows.transform_plan import TransformPlan
from workflows.types import BufferRef, Fingerprint, Frozen, Identifier


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


class DerivedTable(Frozen):
    """A cloud table computed by a set-level plan over tables of the same run (Pattern 3.3.1 only).

    The plan's ``inputs`` name tables of the run by ``source_table``; each input is every row
    that run extracted from that table, as extracted (before the table's own row ``transform``,
    which 3.3.1 applies in the load). The output is upserted into ``destination_table`` on the
    plan's output key; rows of earlier runs that the output no longer has are not deleted.
    Inputs may not be incremental: an incremental run extracts only the changed rows, and an
    aggregate or join over those would overwrite complete results with partial ones.
    """

    destination_table: Identifier
    plan: TransformPlan


class DerivedResult(Frozen):
    """What one derived table's run produced and, with ``verify``, what its destination holds."""

    destination_table: str
    rows: int
    """Rows the plan produced."""
    rows_written: int = 0
    output: Fingerprint
    """Fingerprint of the plan's output, as the engine computed it before the load."""
    destination: Fingerprint | None = None

    @property
    def verified(self) -> bool:
        """True when the destination's fingerprint equals the plan output's."""
        return self.output == self.destination


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
    buffer_run: str | None = None
    """Run id the chunks are written under when kept for derived tables (stable across continue-as-new)."""
    kept: dict[str, tuple[BufferRef, ...]] = Field(default_factory=dict)
    """Claim checks of every extract so far per derived tables' input table (empty without them)."""
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
    derived: tuple[DerivedTable, ...] = Field(default=(), max_length=16)
    """Tables computed in the cloud from this run's tables once they are extracted (3.3.1 only)."""
    state: SyncState = SyncState()

    @model_validator(mode="after")
    def _derived_inputs_known(self) -> SyncInput:
        tables = {t.source_table: t for t in self.tables}
        taken = {t.target for t in self.tables}
        for d in self.derived:
            for name in d.plan.inputs:
                spec = tables.get(name)
                if spec is None:
                    raise ValueError(
                        f"derived table {d.destination_table!r} reads {name!r}, which is no source_table "
                        f"of this run (tables: {sorted(tables)})"
                    )
                if spec.incremental_column:
                    raise ValueError(
                        f"derived table {d.destination_table!r} reads {name!r}, which is incremental: "
                        "a derived table sees only the rows its run extracted, so its inputs must be "
                        "full reads (drop `incremental_column` on them)"
                    )
            if d.destination_table in taken:
                raise ValueError(
                    f"derived table {d.destination_table!r} would write a table this run already writes"
                )
            taken.add(d.destination_table)
        return self

    @property
    def kept_tables(self) -> frozenset[str]:
        """Source tables whose chunks are kept until the derived tables are built."""
        return frozenset(name for d in self.derived for name in d.plan.inputs)


class SyncResult(Frozen):
    """Per-table outcome of a sync run."""

    pattern: str
    tables: tuple[TableResult, ...]
    derived: tuple[DerivedResult, ...] = ()

    @property
    def rows_written(self) -> int:
        """Rows inserted or changed over all tables."""
        return sum(t.rows_written for t in self.tables)
