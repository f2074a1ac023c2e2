"""PostgreSQL CSV COPY <-> Arrow, both directions, without a Python object per value.

Reads run ``COPY (SELECT ...) TO STDOUT (FORMAT csv)`` and hand the bytes to Arrow's CSV
reader with every column's type fixed by the logical schema; loads write Arrow batches with
Arrow's CSV writer into ``COPY ... FROM STDIN (FORMAT csv)``. In PostgreSQL's CSV dialect an
unquoted empty field is NULL and ``""`` is the empty string; Arrow's reader and writer are set
to the same rule, so NULL and ``''`` stay distinct both ways. ``bytea`` has no CSV spelling
Arrow can decode, so tables with binary columns keep the row path.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from activities.arrowtypes import arrow_schema
from activities.sql.errors import ARROW_ERRORS, ColumnValueError
from workflows.types import TableSchema

__all__ = ["COPY_SESSION", "batch_to_csv", "csv_to_batch", "supports_csv"]

# Output formats the reader relies on, set per transaction so a server or database default
# (another TimeZone, DateStyle, or fewer float digits) cannot change what Arrow parses.
COPY_SESSION = (
    "SET LOCAL TimeZone = 'UTC'",
    "SET LOCAL DateStyle = 'ISO, YMD'",
    "SET LOCAL extra_float_digits = 1",
    "SET LOCAL IntervalStyle = 'postgres'",
)

_WRITE = pacsv.WriteOptions(include_header=False, quoting_style="needed")


def supports_csv(schema: TableSchema) -> bool:
    """Whether every column of ``schema`` round-trips through CSV COPY (binary does not)."""
    return all(c.type != "binary" for c in schema.columns)


def _read_type(arrow: pa.DataType) -> pa.DataType:
    # Arrow's CSV reader has no decimal256 converter; those columns are read as text and cast
    return pa.string() if pa.types.is_decimal256(arrow) else arrow


def _convert_options(target: pa.Schema) -> pacsv.ConvertOptions:
    return pacsv.ConvertOptions(
        column_types={f.name: _read_type(f.type) for f in target},
        true_values=["t"],
        false_values=["f"],
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )


def csv_to_batch(payload: pa.Buffer | bytes, schema: TableSchema) -> pa.RecordBatch:
    """Parse PostgreSQL CSV COPY output into one batch typed as ``arrow_schema(schema)``.

    Raises:
        pyarrow.ArrowInvalid: A field does not parse as its column's type; the message names the
            column index (``CSV column #N``), which the connector turns into the column name.
    """
    target = arrow_schema(schema)
    if not len(payload):
        return pa.RecordBatch.from_arrays([pa.array([], f.type) for f in target], schema=target)
    table = pacsv.read_csv(
        pa.BufferReader(payload),
        read_options=pacsv.ReadOptions(column_names=target.names, block_size=8 << 20),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=_convert_options(target),
    )
    columns = []
    for index, field in enumerate(target):
        column = table.column(index).combine_chunks()
        if column.type != field.type:
            try:
                column = pc.cast(column, field.type)
            except ARROW_ERRORS as exc:
                raise ColumnValueError(field.name, str(exc)) from None
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=target)


def batch_to_csv(data: pa.Table) -> pa.Buffer:
    """Arrow rows as PostgreSQL CSV COPY input: strings always quoted, NULL as an empty field."""
    sink = pa.BufferOutputStream()
    pacsv.write_csv(data, sink, write_options=_WRITE)
    return sink.getvalue()
