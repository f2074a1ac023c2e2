"""Set-level transform plans for cloud steps: joins, aggregates, dedupe, filters, derived columns.

A plan is data, never code: it travels in workflow inputs and histories, so it holds relation
names, column names (validated ``Identifier`` values) and expression *text* only. The engine
(``activities.transform_engine``) checks a plan against the real input schemas before it reads
a row, then runs it with DuckDB over the buffered chunks.

No user text reaches DuckDB as SQL. Identifiers are validated here and double-quoted by the
engine; relation names never reach DuckDB at all (the engine names its tables ``r0``, ``r1``..).
``filter`` and ``derive`` expressions are *not* translated to SQL: they are compiled by
``activities.expressions`` (an allow-list over sqlglot's tree, evaluated with pyarrow.compute)
and applied to the rows streamed between DuckDB tables. Translating the tree to DuckDB SQL
would be faster, but it would make the safety of every plan depend on a second printer
matching DuckDB's parser and function semantics exactly (quoting, implicit casts, NULL rules);
reusing the one compiler the row transform already uses keeps one allow-list and one meaning.

Steps run in list order; each names its result, which later steps (or ``output``) read by name.
What is validated here needs no schema (names, references, duplicates, arity); column
existence and types are checked by the engine against the inputs' schemas.
"""

from __future__ import annotations

import re
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, Field, model_validator

from workflows.transform import DeriveColumn, TransformSpec
from workflows.types import BufferRef, Fingerprint, Frozen, Identifier

TRANSFORM_BUFFERED: Final = "transform_buffered"
"""Activity name; it runs on the tenant's cloud queue (it needs the ``cloud`` extra: DuckDB)."""

MAX_STEPS = 32
_MAX_EXPR = 4000
_STEP_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def _check_step_id(value: str) -> str:
    if not _STEP_ID.match(value):
        raise ValueError(f"step id {value!r} must be 1-40 chars of lowercase letters, digits, '-' or '_'")
    return value


StepId = Annotated[str, AfterValidator(_check_step_id)]
"""Names one transform step of a run; part of the output buffer's run id."""


class JoinKey(Frozen):
    """One equality of a join condition: ``left.<left> = right.<right>``."""

    left: Identifier
    right: Identifier


class JoinStep(Frozen):
    """Inner or left join of two relations on key equality (NULL keys never match, as in SQL).

    The result has every left column, then ``right_columns`` (default: every right column
    that is not a join key). A name on both sides is refused: narrow ``right_columns`` or
    rename with a ``select`` step first. In a left join the right columns become nullable.
    """

    op: Literal["join"] = "join"
    name: Identifier
    left: Identifier
    right: Identifier
    on: tuple[JoinKey, ...] = Field(min_length=1)
    how: Literal["inner", "left"] = "inner"
    right_columns: tuple[Identifier, ...] | None = None

    @property
    def sources(self) -> tuple[str, ...]:
        """Relations this step reads."""
        return (self.left, self.right)

    def check(self) -> None:
        """Schema-free checks."""
        _no_duplicates(f"join {self.name!r} key", [k.left for k in self.on])
        _no_duplicates(f"join {self.name!r} right key", [k.right for k in self.on])
        if self.right_columns is not None:
            _no_duplicates(f"join {self.name!r} right_columns", list(self.right_columns))


AggregateFn = Literal["count", "sum", "min", "max", "avg"]


class Aggregate(Frozen):
    """One output column of an aggregate: ``fn(column) AS name``.

    ``count`` without a column counts rows; with one it counts non-NULL values. Result types:
    count -> int64; sum of integers -> int64 (overflow fails the step), of decimal(p,s) ->
    decimal(38,s), of floats -> float64; avg -> float64; min/max keep the column's type.
    """

    name: Identifier
    fn: AggregateFn
    column: Identifier | None = None

    @model_validator(mode="after")
    def _column_needed(self) -> Aggregate:
        if self.column is None and self.fn != "count":
            raise ValueError(f"aggregate {self.name!r}: {self.fn} needs a column")
        return self


class AggregateStep(Frozen):
    """Group by columns (none: one row over the whole input) and compute named aggregates."""

    op: Literal["aggregate"] = "aggregate"
    name: Identifier
    source: Identifier
    group_by: tuple[Identifier, ...] = ()
    aggregates: tuple[Aggregate, ...] = Field(min_length=1)

    @property
    def sources(self) -> tuple[str, ...]:
        """Relations this step reads."""
        return (self.source,)

    def check(self) -> None:
        """Schema-free checks."""
        _no_duplicates(
            f"aggregate {self.name!r} output", [*self.group_by, *(a.name for a in self.aggregates)]
        )


class DedupeStep(Frozen):
    """Keep one row per key: the one with the greatest (or least) ``order_by`` value.

    Ties are broken deterministically by the other columns in name order, ascending with
    NULLs last, so the same input always keeps the same rows. NULL ``order_by`` values rank
    below every value for ``greatest`` and above every value for ``least``.
    """

    op: Literal["dedupe"] = "dedupe"
    name: Identifier
    source: Identifier
    key: tuple[Identifier, ...] = Field(min_length=1)
    order_by: Identifier
    keep: Literal["greatest", "least"] = "greatest"

    @property
    def sources(self) -> tuple[str, ...]:
        """Relations this step reads."""
        return (self.source,)

    def check(self) -> None:
        """Schema-free checks."""
        _no_duplicates(f"dedupe {self.name!r} key", list(self.key))


class FilterStep(Frozen):
    """Keep rows where the expression is TRUE (NULL counts as false, as in SQL ``WHERE``)."""

    op: Literal["filter"] = "filter"
    name: Identifier
    source: Identifier
    where: str = Field(min_length=1, max_length=_MAX_EXPR)

    @property
    def sources(self) -> tuple[str, ...]:
        """Relations this step reads."""
        return (self.source,)

    def check(self) -> None:
        """Schema-free checks (the expression is checked against the schema by the engine)."""

    def as_row_transform(self) -> TransformSpec:
        """The row transform this step is."""
        return TransformSpec(filter=self.where)


class DeriveStep(Frozen):
    """Add (or replace) columns from expressions; a later column may use an earlier one."""

    op: Literal["derive"] = "derive"
    name: Identifier
    source: Identifier
    columns: tuple[DeriveColumn, ...] = Field(min_length=1)

    @property
    def sources(self) -> tuple[str, ...]:
        """Relations this step reads."""
        return (self.source,)

    def check(self) -> None:
        """Schema-free checks."""
        self.as_row_transform()

    def as_row_transform(self) -> TransformSpec:
        """The row transform this step is."""
        return TransformSpec(derive=self.columns)


class SelectStep(Frozen):
    """Keep columns in this order, optionally renaming them (old name -> new name)."""

    op: Literal["select"] = "select"
    name: Identifier
    source: Identifier
    columns: tuple[Identifier, ...] = Field(min_length=1)
    rename: dict[Identifier, Identifier] = Field(default_factory=dict)

    @property
    def sources(self) -> tuple[str, ...]:
        """Relations this step reads."""
        return (self.source,)

    def check(self) -> None:
        """Schema-free checks."""
        self.as_row_transform()

    def as_row_transform(self) -> TransformSpec:
        """The row transform this step is."""
        return TransformSpec(select=self.columns, rename=self.rename)


PlanStep = Annotated[
    JoinStep | AggregateStep | DedupeStep | FilterStep | DeriveStep | SelectStep,
    Field(discriminator="op"),
]


class TransformPlan(Frozen):
    """Named buffered inputs, steps over them in order, and which relation is the output.

    ``output`` defaults to the last step. ``output_key`` overrides the output's primary key
    (the key a later load upserts on); by default it is inferred: an aggregate's group-by, a
    dedupe's key, a row step's source key, a join's left key when the right side is joined on
    its whole primary key (so no left row can match twice), and no key otherwise.
    """

    inputs: tuple[Identifier, ...] = Field(min_length=1, max_length=8)
    steps: tuple[PlanStep, ...] = Field(min_length=1, max_length=MAX_STEPS)
    output: Identifier | None = None
    output_key: tuple[Identifier, ...] | None = None

    @model_validator(mode="after")
    def _check_graph(self) -> TransformPlan:
        _no_duplicates("inputs", list(self.inputs))
        known = set(self.inputs)
        used: set[str] = set()
        for step in self.steps:
            if step.name in known:
                raise ValueError(f"step {step.name!r}: the name is already an input or an earlier step")
            for source in step.sources:
                if source not in known:
                    raise ValueError(
                        f"step {step.name!r} reads {source!r}, which is no input or earlier step"
                    )
                used.add(source)
            step.check()
            known.add(step.name)
        if self.output is not None and self.output not in known:
            raise ValueError(f"output {self.output!r} is no input or step")
        unused = [
            n for n in [*self.inputs, *(s.name for s in self.steps)] if n not in used and n != self.result
        ]
        if unused:
            raise ValueError(f"{unused[0]!r} is never read: every input and step must lead to the output")
        if self.output_key is not None:
            _no_duplicates("output_key", list(self.output_key))
        return self

    @property
    def result(self) -> str:
        """The relation the plan produces."""
        return self.output or self.steps[-1].name


class EngineLimits(Frozen):
    """Resources the engine may use on the worker; past ``memory_limit_mb`` DuckDB spills to disk."""

    memory_limit_mb: int = Field(default=512, ge=64, le=65_536)
    threads: int = Field(default=1, ge=1, le=16)
    output_batch_rows: int = Field(default=50_000, ge=1, le=1_000_000)
    """Rows per output chunk (and per batch streamed through a filter/derive/select step)."""
    max_disk_mb: int = Field(default=50_000, ge=16)
    """Cap on DuckDB's spill files (``max_temp_directory_size``)."""


class TransformBufferedInput(Frozen):
    """Run a plan over buffered inputs; the result goes to a new buffer object of the same tenant.

    The output's run id is ``output_run_id(run_id, step)``: the same run and step always write
    (and on a re-run first purge and then rewrite) the same buffer prefix.
    """

    tenant: str
    run_id: str
    step: StepId
    plan: TransformPlan
    inputs: dict[Identifier, BufferRef | tuple[BufferRef, ...]]
    """Per plan input its claim check, or several (one per extract of a table read in steps:
    each extract seals its chunks under its own times, so their claim checks cannot be joined)."""
    limits: EngineLimits = EngineLimits()

    @model_validator(mode="after")
    def _inputs_match(self) -> TransformBufferedInput:
        if set(self.inputs) != set(self.plan.inputs):
            raise ValueError(
                f"inputs {sorted(self.inputs)} do not match the plan's inputs {sorted(self.plan.inputs)}"
            )
        for name in self.inputs:
            refs = self.refs(name)
            if not refs:
                raise ValueError(f"input {name!r} has no claim check")
            if any(r.table_schema != refs[0].table_schema for r in refs):
                raise ValueError(f"the claim checks of input {name!r} differ in schema")
        return self

    def refs(self, name: str) -> tuple[BufferRef, ...]:
        """The claim checks of one input, in order."""
        value = self.inputs[name]
        return (value,) if isinstance(value, BufferRef) else value


class EngineStats(Frozen):
    """What a run cost on the worker: measured, so limits can be checked from the result."""

    input_rows: int = 0
    input_bytes: int = 0
    """Decoded (in-memory Arrow) size of every input chunk read."""
    start_rss_bytes: int = 0
    peak_rss_bytes: int = 0
    """Highest resident set size of the worker process sampled while the plan ran."""
    peak_spill_bytes: int = 0
    """Highest total size of DuckDB's spill directory sampled while the plan ran."""


class TransformBufferedResult(Frozen):
    """Where the output is, how many rows it has, its fingerprint, and what the run cost."""

    buffer: BufferRef
    rows: int
    fingerprint: Fingerprint
    stats: EngineStats


def output_run_id(run_id: str, step: str) -> str:
    """The buffer run id a transform step writes to; purge it with ``PURGE_BUFFER`` when done."""
    return f"{run_id}.transform-{_check_step_id(step)}"


def _no_duplicates(what: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name.casefold() in seen:
            raise ValueError(f"{what} names {name!r} twice")
        seen.add(name.casefold())
