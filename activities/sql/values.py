"""Python values of logical types: JSON positions, canonical text for hashing, Arrow batches.

Positions are stored in Temporal heartbeat details, so they must survive a JSON round trip;
the canonical text makes the same logical value hash the same whatever database held it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from activities.arrowtypes import arrow_schema
from activities.sql.errors import ARROW_ERRORS, ColumnValueError
from activities.sql.typemap import decimal_parts
from workflows.types import TableSchema

__all__ = ["from_json_value", "infer_array", "rows_to_batch", "to_json_value"]


# what building an Arrow array from driver values raises when a value does not fit its type
_VALUE_ERRORS: tuple[type[Exception], ...] = (*ARROW_ERRORS, TypeError, ValueError, ArithmeticError)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_json_value(logical: str, value: Any) -> Any:
    """A JSON-serialisable form of ``value``: ISO text for temporal values, text for decimals."""
    if value is None or isinstance(value, bool | int | float | str):
        return str(value) if decimal_parts(logical) and value is not None else value
    if logical == "timestamptz":
        return _utc(value).isoformat()
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)


def from_json_value(logical: str, value: Any) -> Any:
    """Inverse of :func:`to_json_value`: the Python value a driver can bind as a parameter."""
    if value is None:
        return None
    parts = decimal_parts(logical)
    if parts:
        return Decimal(str(value)).quantize(Decimal(1).scaleb(-parts[1]))
    parse: dict[str, Callable[[Any], Any]] = {
        "timestamp": lambda v: datetime.fromisoformat(v).replace(tzinfo=None),
        "timestamptz": lambda v: _utc(datetime.fromisoformat(v)),
        "date": date.fromisoformat,
        "time": time.fromisoformat,
        "binary": base64.b64decode,
        "bool": bool,
        "int16": int,
        "int32": int,
        "int64": int,
        "float32": float,
        "float64": float,
    }
    return parse[logical](value) if logical in parse and isinstance(value, str | int | float) else value


def _to_arrow_python(logical: str, value: Any) -> Any:
    """Coerce a driver value into what ``pa.array`` accepts for the logical type."""
    if value is None:
        return None
    if logical == "bool":
        return bool(value)
    if logical == "time" and isinstance(value, timedelta):  # pymysql returns TIME as timedelta
        return (datetime.min + value).time()
    if logical == "timestamptz" and isinstance(value, datetime):
        return _utc(value)
    if logical == "json" and not isinstance(value, str):
        return json.dumps(value)
    if logical == "string" and not isinstance(value, str):  # uuid.UUID, enums, inet ... as text
        return str(value)
    if decimal_parts(logical) and not isinstance(value, Decimal):
        return from_json_value(logical, value)
    return value


def rows_to_batch(
    rows: Sequence[Sequence[Any]],
    schema: TableSchema,
    convert: Callable[[str, Any], Any] | None = None,
) -> pa.RecordBatch:
    """Build a batch typed exactly as ``arrow_schema(schema)`` from driver rows.

    Args:
        rows: Tuples in the order of ``schema.columns``.
        schema: The logical schema the batch must follow.
        convert: A dialect's own decoder applied before the common coercion (e.g. SQLite text dates).

    Raises:
        ColumnValueError: A value does not fit its column; connectors translate it with
            :func:`activities.sql.errors.arrow_errors`.
    """
    target = arrow_schema(schema)
    arrays = []
    for index, column in enumerate(schema.columns):
        values = [row[index] for row in rows]
        if convert is not None:
            values = [convert(column.type, v) for v in values]
        try:
            arrays.append(
                pa.array([_to_arrow_python(column.type, v) for v in values], type=target.field(index).type)
            )
        except _VALUE_ERRORS as exc:
            raise ColumnValueError(column.name, str(exc) or type(exc).__name__) from None
    return pa.RecordBatch.from_arrays(arrays, schema=target)


def infer_array(values: list[Any]) -> pa.Array:
    """An Arrow array of untyped query results; driver objects Arrow cannot hold become text.

    User SQL has no declared schema, so a ``uuid`` or ``inet`` column arrives as driver objects
    (``uuid.UUID`` ...) which Arrow refuses; their text form is what the database would print.
    """
    try:
        array = pa.array(values)
        if not isinstance(array.type, pa.BaseExtensionType):  # Arrow's own uuid type: keep text instead
            return array
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        pass
    return pa.array([None if v is None else v if isinstance(v, str) else str(v) for v in values])
