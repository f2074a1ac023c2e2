"""Logical type <-> Arrow type, both directions.

The logical types in ``workflows.types`` are what histories carry; Arrow types are what the
data path holds in memory. Keeping the two directions side by side makes the round trip
``logical_type(arrow_type(t)) == t`` easy to check.
"""

from __future__ import annotations

import re

import pyarrow as pa

from workflows.types import TableSchema

_DECIMAL = re.compile(r"^decimal\((\d{1,2}),(\d{1,2})\)$")
_DECIMAL128_MAX_PRECISION = 38

_TO_ARROW: dict[str, pa.DataType] = {
    "bool": pa.bool_(),
    "int16": pa.int16(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float32": pa.float32(),
    "float64": pa.float64(),
    "string": pa.string(),
    "binary": pa.binary(),
    "date": pa.date32(),
    "time": pa.time64("us"),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    # JSON stays text on the data path; sinks parse it if they have a native type.
    "json": pa.string(),
}

# Arrow types a logical type can be read back from; json is deliberately absent (it reads
# back as string, which is what it is in memory).
_FROM_ARROW: dict[pa.DataType, str] = {
    **{t: name for name, t in _TO_ARROW.items() if name != "json"},
    pa.int8(): "int16",
    pa.uint8(): "int16",
    pa.uint16(): "int32",
    pa.uint32(): "int64",
    pa.float16(): "float32",
    pa.large_string(): "string",
    pa.large_binary(): "binary",
    pa.date64(): "date",
}


def arrow_type(logical: str) -> pa.DataType:
    """Return the Arrow type that holds values of a logical type.

    Args:
        logical: A logical type string such as ``int64`` or ``decimal(12,2)``.

    Returns:
        The Arrow type; decimals wider than 38 digits use ``decimal256``.

    Raises:
        ValueError: If ``logical`` is not a known logical type.
    """
    if (m := _DECIMAL.match(logical)) is not None:
        precision, scale = int(m.group(1)), int(m.group(2))
        if precision > _DECIMAL128_MAX_PRECISION:
            return pa.decimal256(precision, scale)
        return pa.decimal128(precision, scale)
    try:
        return _TO_ARROW[logical]
    except KeyError:
        raise ValueError(f"unknown logical type {logical!r}") from None


def logical_type(arrow: pa.DataType) -> str:
    """Return the logical type for an Arrow type produced on the data path.

    Timestamps of any unit map to microsecond logical types; a zoned timestamp is
    ``timestamptz`` whatever its zone, because values are instants.

    Args:
        arrow: The Arrow type of a column.

    Returns:
        The logical type string.

    Raises:
        ValueError: If the Arrow type has no logical counterpart (lists, structs, null ...).
    """
    if pa.types.is_decimal(arrow):
        return f"decimal({arrow.precision},{arrow.scale})"
    if pa.types.is_timestamp(arrow):
        return "timestamptz" if arrow.tz else "timestamp"
    if pa.types.is_time(arrow):
        return "time"
    if (found := _FROM_ARROW.get(arrow)) is not None:
        return found
    if pa.types.is_uint64(arrow):
        return "decimal(20,0)"
    raise ValueError(f"Arrow type {arrow} has no logical type")


def arrow_schema(schema: TableSchema) -> pa.Schema:
    """Return the Arrow schema for a table schema, keeping column order and nullability."""
    return pa.schema([pa.field(c.name, arrow_type(c.type), nullable=c.nullable) for c in schema.columns])
