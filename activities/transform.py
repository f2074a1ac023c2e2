"""Compile a ``TransformSpec`` against a table schema once, then apply it to every batch.

Everything that can be wrong with a spec (unknown column, bad cast, bad expression, a
dropped primary-key column) is found by ``compile_transform`` before the first row is read,
so a flow fails fast with a ``TransformError`` naming the culprit instead of after an hour
of extraction. ``apply`` then only runs precompiled pyarrow.compute kernels.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import pyarrow as pa

from activities.arrowtypes import arrow_schema, arrow_type, logical_type
from activities.coercion import arrow_errors, cast
from activities.errors import TransformError
from activities.expressions import CompiledExpression, compile_expression
from workflows.transform import TransformSpec
from workflows.types import ColumnSchema, TableSchema

__all__ = ["CompiledTransform", "compile_transform"]


@dataclass(frozen=True)
class _Derived:
    name: str
    expression: CompiledExpression
    arrow_type: pa.DataType


@dataclass(frozen=True)
class _Output:
    source: str
    column: ColumnSchema
    arrow_type: pa.DataType


@dataclass(frozen=True)
class CompiledTransform:
    """A transform checked against one input schema; build it with ``compile_transform``."""

    input_schema: TableSchema
    output_schema: TableSchema
    _input_arrow: pa.Schema
    _filter: CompiledExpression | None
    _derive: tuple[_Derived, ...]
    _outputs: tuple[_Output, ...]
    _output_arrow: pa.Schema

    def apply(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Filter, derive, select, rename and cast one batch.

        Args:
            batch: Rows with (at least) the input schema's columns; extra columns are
                ignored and columns of a compatible Arrow type are cast first.

        Returns:
            A batch whose schema is ``arrow_schema(self.output_schema)``.

        Raises:
            TransformError: If a column is missing or a value cannot be computed or cast
                (overflow, unparsable text in a cast); the message names the column or
                expression.
        """
        batch = self._conform(batch)
        if self._filter is not None:
            batch = batch.filter(self._filter.evaluate(batch))
        columns = dict(zip(batch.schema.names, batch.columns, strict=True))
        for derived in self._derive:
            try:
                value = derived.expression.evaluate(batch)
            except TransformError as exc:
                message = f"derived column {derived.name!r}: {exc.message}"
                raise TransformError(message, **exc.fields) from None
            with arrow_errors(f"derived column {derived.name!r}", column=derived.name):
                columns[derived.name] = cast(value, derived.arrow_type)
            batch = pa.RecordBatch.from_pydict(columns)
        arrays = []
        for out in self._outputs:
            with arrow_errors(f"column {out.column.name!r}", column=out.column.name):
                arrays.append(cast(columns[out.source], out.arrow_type))
        return pa.RecordBatch.from_arrays(arrays, schema=self._output_arrow)

    def _conform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        arrays = []
        for field in self._input_arrow:
            index = batch.schema.get_field_index(field.name)
            if index < 0:
                raise TransformError(f"input batch has no column {field.name!r}", column=field.name)
            with arrow_errors(f"input column {field.name!r}", column=field.name):
                arrays.append(cast(batch.column(index), field.type))
        return pa.RecordBatch.from_arrays(arrays, schema=self._input_arrow)


def compile_transform(spec: TransformSpec, input_schema: TableSchema) -> CompiledTransform:
    """Check a spec against the input schema and precompile its expressions.

    Steps run in the order documented in ``workflows.transform``: filter, derive, select,
    rename, cast. The primary key is carried through renames; dropping a key column is an
    error because sinks merge on the key.

    Args:
        spec: The declarative transform.
        input_schema: The schema of the batches ``apply`` will receive.

    Returns:
        The compiled transform, with ``output_schema`` describing its result.

    Raises:
        TransformError: Naming the unknown column, bad expression, impossible cast or
            dropped key column.
    """
    input_arrow = arrow_schema(input_schema)
    compiled_filter = None
    if spec.filter is not None:
        compiled_filter = compile_expression(spec.filter, input_arrow)
        result = compiled_filter.arrow_type
        if not (pa.types.is_boolean(result) or pa.types.is_null(result)):
            raise TransformError(
                f"filter {spec.filter!r} yields {result}, not a boolean", expression=spec.filter
            )

    columns: dict[str, ColumnSchema] = {c.name: c for c in input_schema.columns}
    working = {f.name: f.type for f in input_arrow}
    derived: list[_Derived] = []
    for d in spec.derive:
        expression = compile_expression(d.expr, pa.schema(list(working.items())))
        logical = d.type or _inferred_logical(d.name, expression)
        target = arrow_type(logical)
        _check_cast(expression.arrow_type, target, column=d.name)
        derived.append(_Derived(d.name, expression, target))
        working[d.name] = target
        columns[d.name] = ColumnSchema(name=d.name, type=logical, nullable=True)

    selected = list(spec.select) if spec.select is not None else list(columns)
    _require_known(selected, columns, step="select")
    _require_known(list(spec.rename), selected, step="rename")
    renamed = [spec.rename.get(name, name) for name in selected]
    if len(set(renamed)) != len(renamed):
        clash = next(n for n in renamed if renamed.count(n) > 1)
        raise TransformError(f"rename produces column {clash!r} twice", column=clash)
    _require_known(list(spec.cast), renamed, step="cast")

    outputs = []
    for source, name in zip(selected, renamed, strict=True):
        column = columns[source]
        logical = spec.cast.get(name, column.type)
        target = arrow_type(logical)
        _check_cast(working[source], target, column=name)
        out_column = ColumnSchema(name=name, type=logical, nullable=column.nullable)
        outputs.append(_Output(source, out_column, target))

    output_schema = TableSchema(
        table=input_schema.table,
        columns=tuple(o.column for o in outputs),
        primary_key=_carried_key(input_schema.primary_key, selected, spec.rename),
    )
    return CompiledTransform(
        input_schema=input_schema,
        output_schema=output_schema,
        _input_arrow=input_arrow,
        _filter=compiled_filter,
        _derive=tuple(derived),
        _outputs=tuple(outputs),
        _output_arrow=arrow_schema(output_schema),
    )


def _inferred_logical(name: str, expression: CompiledExpression) -> str:
    try:
        return logical_type(expression.arrow_type)
    except ValueError:
        raise TransformError(
            f"derived column {name!r}: cannot infer a type from {expression.text!r}; give it a 'type'",
            column=name,
            expression=expression.text,
        ) from None


def _check_cast(source: pa.DataType, target: pa.DataType, *, column: str) -> None:
    # Casting an empty array resolves the cast kernel without data: unsupported pairs fail here.
    with arrow_errors(f"column {column!r} cannot be cast from {source} to {target}", column=column):
        cast(pa.array([], source), target)


def _require_known(names: list[str], known: Collection[str], *, step: str) -> None:
    for name in names:
        if name not in known:
            raise TransformError(f"{step} names unknown column {name!r}", column=name)


def _carried_key(key: tuple[str, ...], selected: list[str], rename: dict[str, str]) -> tuple[str, ...]:
    for name in key:
        if name not in selected:
            raise TransformError(
                f"transform drops primary key column {name!r}; keep it in select", column=name
            )
    return tuple(rename.get(name, name) for name in key)
