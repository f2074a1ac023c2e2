"""Check a ``TransformPlan`` against the real input schemas and lower it to engine operations.

Runs before any chunk is read, so a bad plan fails fast with a ``TransformError`` naming the
step and the culprit column or expression. Set-level steps become DuckDB SQL built only from
engine-chosen table names (``r0``, ``r1``, ..) and validated, double-quoted identifiers; row
steps become ``CompiledTransform`` objects applied to the rows streamed between tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from activities.errors import TransformError
from activities.transform import CompiledTransform, compile_transform
from workflows.transform_plan import (
    Aggregate,
    AggregateStep,
    DedupeStep,
    JoinStep,
    TransformPlan,
)
from workflows.types import ColumnSchema, TableSchema

_NUMERIC = ("int16", "int32", "int64", "float32", "float64")
_NOT_ORDERABLE = ("json",)
_MAX_PRECISION = 38  # DuckDB's widest DECIMAL


@dataclass(frozen=True)
class SqlOp:
    """A set-level step: ``CREATE TABLE <table> AS <sql>``."""

    table: str
    sql: str
    schema: TableSchema


@dataclass(frozen=True)
class RowOp:
    """A row step: stream ``source`` through ``transform`` into ``table``."""

    table: str
    source: str
    transform: CompiledTransform
    schema: TableSchema


@dataclass(frozen=True)
class CheckedPlan:
    """A plan checked against its inputs: table per input, operations in order, the output."""

    inputs: dict[str, tuple[str, TableSchema]]
    """Plan input name -> (engine table, schema)."""
    ops: tuple[SqlOp | RowOp, ...]
    output_table: str
    output_schema: TableSchema


def quote(name: str) -> str:
    """Double-quote an identifier; ``Identifier`` values hold no quote, so no escaping is needed."""
    if '"' in name:
        raise TransformError(f"identifier {name!r} holds a quote", column=name)
    return f'"{name}"'


def check_plan(plan: TransformPlan, schemas: Mapping[str, TableSchema]) -> CheckedPlan:
    """Check every step against the schemas it will see, and lower it.

    Args:
        plan: The plan (already schema-free validated by its model).
        schemas: Each plan input's table schema (from its ``BufferRef``).

    Returns:
        The operations to run and the output schema.

    Raises:
        TransformError: An input is missing, a column is unknown or ambiguous, a type does not
            fit an operation, or an expression does not compile; the message names the step.
    """
    tables: dict[str, tuple[str, TableSchema]] = {}
    for i, name in enumerate(plan.inputs):
        if name not in schemas:
            raise TransformError(f"plan input {name!r} has no buffer", relation=name)
        schema = schemas[name]
        for column in schema.columns:
            if column.type.startswith("decimal(") and int(column.type[8:].split(",")[0]) > _MAX_PRECISION:
                raise TransformError(
                    f"input {name!r}: column {column.name!r} is {column.type}; the engine holds at most "
                    f"{_MAX_PRECISION} decimal digits",
                    column=column.name,
                )
        _distinct_names(f"input {name!r}", [c.name for c in schema.columns])
        tables[name] = (f"r{i}", schema)
    inputs = dict(tables)
    ops: list[SqlOp | RowOp] = []
    for step in plan.steps:
        table = f"r{len(tables)}"
        op: SqlOp | RowOp
        if isinstance(step, JoinStep):
            op = _join(step, table, tables[step.left], tables[step.right])
        elif isinstance(step, AggregateStep):
            op = _aggregate(step, table, tables[step.source])
        elif isinstance(step, DedupeStep):
            op = _dedupe(step, table, tables[step.source])
        else:
            source_table, source = tables[step.source]
            spec = step.as_row_transform()
            # The key is re-derived below; row transforms may drop columns of a set step's key.
            keyless = source.model_copy(update={"primary_key": (), "table": step.name})
            try:
                compiled = compile_transform(spec, keyless)
            except TransformError as exc:
                raise TransformError(
                    f"step {step.name!r}: {exc.message}", step=step.name, **exc.fields
                ) from None
            # The key survives only if every key column is kept as it was (not re-derived).
            selected = set(spec.select) if spec.select is not None else {c.name for c in source.columns}
            derived = {d.name for d in spec.derive}
            intact = all(k in selected and k not in derived for k in source.primary_key)
            key = tuple(spec.rename.get(k, k) for k in source.primary_key) if intact else ()
            schema = compiled.output_schema.model_copy(update={"primary_key": key})
            op = RowOp(table=table, source=source_table, transform=compiled, schema=schema)
        tables[step.name] = (table, op.schema)
        ops.append(op)
    output_table, output_schema = tables[plan.result]
    if plan.output_key is not None:
        for name in plan.output_key:
            _column(output_schema, name, step="output_key")
        output_schema = output_schema.model_copy(update={"primary_key": plan.output_key})
    output_schema = output_schema.model_copy(update={"table": plan.result})
    return CheckedPlan(inputs=inputs, ops=tuple(ops), output_table=output_table, output_schema=output_schema)


def _column(schema: TableSchema, name: str, *, step: str) -> ColumnSchema:
    column = schema.column(name)
    if column is None:
        known = ", ".join(c.name for c in schema.columns)
        raise TransformError(f"step {step!r}: unknown column {name!r} (has {known})", step=step, column=name)
    return column


def _distinct_names(what: str, names: list[str]) -> None:
    # DuckDB matches even quoted identifiers case-insensitively: "Id" and "id" would collide.
    seen: dict[str, str] = {}
    for name in names:
        if name.casefold() in seen:
            raise TransformError(
                f"{what}: columns {seen[name.casefold()]!r} and {name!r} differ only in case", column=name
            )
        seen[name.casefold()] = name


def _join(step: JoinStep, table: str, left: tuple[str, TableSchema], right: tuple[str, TableSchema]) -> SqlOp:
    (lt, ls), (rt, rs) = left, right
    for key in step.on:
        lcol, rcol = _column(ls, key.left, step=step.name), _column(rs, key.right, step=step.name)
        if lcol.type != rcol.type:
            raise TransformError(
                f"step {step.name!r}: join key {key.left!r} is {lcol.type} but {key.right!r} is {rcol.type}",
                step=step.name,
                column=key.left,
            )
    right_keys = {k.right for k in step.on}
    wanted = step.right_columns
    if wanted is None:
        wanted = tuple(c.name for c in rs.columns if c.name not in right_keys)
    right_cols = [_column(rs, name, step=step.name) for name in wanted]
    if step.how == "left":
        right_cols = [c.model_copy(update={"nullable": True}) for c in right_cols]
    columns = [*ls.columns, *right_cols]
    _distinct_names(
        f"step {step.name!r} (join output; narrow right_columns or rename first)", [c.name for c in columns]
    )
    select = [f"l.{quote(c.name)}" for c in ls.columns] + [f"r.{quote(c.name)}" for c in right_cols]
    condition = " AND ".join(f"l.{quote(k.left)} = r.{quote(k.right)}" for k in step.on)
    join = "INNER JOIN" if step.how == "inner" else "LEFT JOIN"
    sql = f"SELECT {', '.join(select)} FROM {lt} AS l {join} {rt} AS r ON {condition}"
    unique = bool(rs.primary_key) and set(rs.primary_key) <= right_keys
    schema = TableSchema(
        table=step.name, columns=tuple(columns), primary_key=ls.primary_key if unique else ()
    )
    return SqlOp(table=table, sql=sql, schema=schema)


def _aggregate_column(step: AggregateStep, agg: Aggregate, source: TableSchema) -> tuple[str, ColumnSchema]:
    if agg.column is None:
        return "count(*)", ColumnSchema(name=agg.name, type="int64", nullable=False)
    column = _column(source, agg.column, step=step.name)
    arg, kind = quote(column.name), column.type
    numeric = kind in _NUMERIC or kind.startswith("decimal(")
    if agg.fn == "count":
        return f"count({arg})", ColumnSchema(name=agg.name, type="int64", nullable=False)
    if agg.fn in ("sum", "avg") and not numeric:
        raise TransformError(
            f"step {step.name!r}: {agg.fn}({column.name}) needs a numeric column, not {kind}",
            step=step.name,
            column=column.name,
        )
    if agg.fn in ("min", "max") and kind in _NOT_ORDERABLE:
        raise TransformError(
            f"step {step.name!r}: {agg.fn}({column.name}) is not defined for {kind}",
            step=step.name,
            column=column.name,
        )
    if agg.fn == "avg":
        return f"CAST(avg({arg}) AS DOUBLE)", ColumnSchema(name=agg.name, type="float64")
    if agg.fn == "sum":
        if kind.startswith("decimal("):
            scale = kind[len("decimal(") : -1].split(",")[1]
            return f"sum({arg})", ColumnSchema(name=agg.name, type=f"decimal(38,{scale})")
        if kind.startswith("float"):
            return f"CAST(sum({arg}) AS DOUBLE)", ColumnSchema(name=agg.name, type="float64")
        return f"CAST(sum({arg}) AS BIGINT)", ColumnSchema(name=agg.name, type="int64")
    return f"{agg.fn}({arg})", ColumnSchema(name=agg.name, type=kind)


def _aggregate(step: AggregateStep, table: str, source: tuple[str, TableSchema]) -> SqlOp:
    st, ss = source
    groups = [_column(ss, name, step=step.name) for name in step.group_by]
    exprs = [quote(g.name) for g in groups]
    columns = list(groups)
    for agg in step.aggregates:
        sql, column = _aggregate_column(step, agg, ss)
        exprs.append(f"{sql} AS {quote(agg.name)}")
        columns.append(column)
    sql = f"SELECT {', '.join(exprs)} FROM {st}"
    if groups:
        sql += " GROUP BY " + ", ".join(quote(g.name) for g in groups)
    schema = TableSchema(table=step.name, columns=tuple(columns), primary_key=step.group_by)
    return SqlOp(table=table, sql=sql, schema=schema)


def _dedupe(step: DedupeStep, table: str, source: tuple[str, TableSchema]) -> SqlOp:
    st, ss = source
    keys = [_column(ss, name, step=step.name) for name in step.key]
    order = _column(ss, step.order_by, step=step.name)
    if order.type in _NOT_ORDERABLE:
        raise TransformError(
            f"step {step.name!r}: cannot order by {order.name!r} of type {order.type}",
            step=step.name,
            column=order.name,
        )
    direction = "DESC NULLS LAST" if step.keep == "greatest" else "ASC NULLS LAST"
    rest = sorted(c.name for c in ss.columns if c.name not in step.key and c.name != order.name)
    ordering = [f"{quote(order.name)} {direction}"] + [f"{quote(name)} ASC NULLS LAST" for name in rest]
    partition = ", ".join(quote(k.name) for k in keys)
    select = ", ".join(quote(c.name) for c in ss.columns)
    sql = (
        f"SELECT {select} FROM {st} "
        f"QUALIFY row_number() OVER (PARTITION BY {partition} ORDER BY {', '.join(ordering)}) = 1"
    )
    schema = ss.model_copy(update={"table": step.name, "primary_key": step.key})
    return SqlOp(table=table, sql=sql, schema=schema)
