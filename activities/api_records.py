"""Records between Arrow batches (the data path) and JSON (what a user API speaks).

Rows read from a database or the buffer become JSON objects for a write operation; items
listed from an API become Arrow batches for the buffer and the transform. The schema of listed
items is inferred from the first page and every later page must fit it, so one odd page fails
the step with a clear message instead of silently changing column types mid-run.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import pyarrow as pa

from activities.arrowtypes import arrow_schema
from activities.errors import ApiCallError
from workflows.types import ColumnSchema, TableSchema

_IDENT_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$")


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # exact: a float would round money
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def json_records(
    batch: pa.RecordBatch, *, json_columns: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """The rows of ``batch`` as JSON objects: decimals as strings, dates as ISO text, JSON columns parsed."""
    out = []
    for row in batch.to_pylist():
        record = {}
        for name, value in row.items():
            if name in json_columns and isinstance(value, str):
                record[name] = json.loads(value)
            else:
                record[name] = _jsonable(value)
        out.append(record)
    return out


def slices(batch: pa.RecordBatch | pa.Table, size: int) -> Iterator[pa.RecordBatch]:
    """``batch`` in consecutive pieces of at most ``size`` rows (one request each)."""
    table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
    for start in range(0, table.num_rows, size):
        yield from table.slice(start, size).combine_chunks().to_batches() or []


def _logical(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    return "json"


def infer_schema(items: Sequence[Any], *, table: str, operation: str) -> TableSchema:
    """The table schema of a page of listed items (JSON objects with plain field names).

    Raises:
        ApiCallError: The items are not objects, or a field name is not a plain identifier.
    """
    types: dict[str, str | None] = {}
    for item in items:
        if not isinstance(item, dict):
            raise ApiCallError(f"{operation} listed something other than JSON objects", operation=operation)
        for name, value in item.items():
            if not name or name[0].isdigit() or not set(name) <= _IDENT_OK or len(name) > 63:
                raise ApiCallError(
                    f"{operation} listed a field that is not a plain name", operation=operation
                )
            seen, now = types.get(name), _logical(value)
            if seen is None:
                types[name] = now
            elif now is not None and now != seen:
                types[name] = "float64" if {seen, now} == {"int64", "float64"} else "json"
    columns = tuple(ColumnSchema(name=n, type=t or "string", nullable=True) for n, t in types.items())
    return TableSchema(table=table, columns=columns)


def items_batch(items: Sequence[dict[str, Any]], schema: TableSchema, *, operation: str) -> pa.RecordBatch:
    """One Arrow batch of listed items in ``schema`` (missing fields are null, nested values JSON text).

    Raises:
        ApiCallError: An item has a field the first page did not, or a value of another type.
    """
    names = [c.name for c in schema.columns]
    json_cols = {c.name for c in schema.columns if c.type == "json"}
    rows = []
    for item in items:
        extra = set(item) - set(names)
        if extra:
            raise ApiCallError(
                f"{operation} listed fields the first page did not have: {sorted(extra)[:5]}",
                operation=operation,
            )
        rows.append(
            {
                n: json.dumps(item.get(n)) if n in json_cols and item.get(n) is not None else item.get(n)
                for n in names
            }
        )
    try:
        return pa.RecordBatch.from_pylist(rows, schema=arrow_schema(schema))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        raise ApiCallError(
            f"{operation} listed values whose types differ from the first page's", operation=operation
        ) from None
