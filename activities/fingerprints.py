"""Order-independent table fingerprints: the parity check behind every sync and test.

Values are rendered to a canonical text per logical kind (timestamps as UTC microseconds,
decimals without trailing zeros) so the same data gives the same hash in PostgreSQL, MariaDB
and SQLite, whatever their column order; row hashes are summed, so row order does not matter.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable

import pyarrow as pa
import pyarrow.compute as pc

from workflows.types import Fingerprint, TableSchema

_MOD = 2**128
_NULL = "\x00N"


def _canonical_json(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    # JSON text differs by database (spacing, key order); rare enough to normalise in Python.
    return pa.array(
        [None if v is None else json.dumps(json.loads(v), sort_keys=True) for v in column.to_pylist()],
        pa.string(),
    )


def _canonical(column: pa.ChunkedArray | pa.Array, *, is_json: bool = False) -> pa.Array:
    typ = column.type
    if is_json:
        column = _canonical_json(column)
    elif pa.types.is_timestamp(typ):
        if typ.tz is None:
            column = pc.assume_timezone(column, "UTC")
        column = pc.cast(column, pa.timestamp("us", tz="UTC")).cast(pa.int64())
    elif pa.types.is_decimal(typ):
        text = pc.cast(column, pa.string())
        text = pc.replace_substring_regex(text, r"(\.\d*?)0+$", r"\1")
        column = pc.replace_substring_regex(text, r"\.$", "")
    elif pa.types.is_floating(typ):
        column = pc.round(column, 9)
    elif pa.types.is_boolean(typ):
        column = pc.cast(column, pa.int8())
    elif pa.types.is_binary(typ) or pa.types.is_large_binary(typ):
        # Hex, not a cast: arbitrary bytes are not UTF-8 text (a cast fails on b"\xff").
        column = pa.array([None if v is None else v.hex() for v in column.to_pylist()], pa.string())
    text = pc.cast(column, pa.string())
    return pc.fill_null(text, _NULL)


def row_texts(batch: pa.RecordBatch, *, json_columns: frozenset[str] = frozenset()) -> list[str]:
    """Canonical text of every row, columns in name order."""
    names = sorted(batch.schema.names)
    parts: list[pa.Array] = []
    for name in names:
        parts.append(pa.array([name + "="] * batch.num_rows, pa.string()))
        parts.append(_canonical(batch.column(name), is_json=name in json_columns))
    if not parts:
        return [""] * batch.num_rows
    joined = pc.binary_join_element_wise(*parts, "\x1f")
    return joined.to_pylist()


def json_columns_of(schema: TableSchema) -> frozenset[str]:
    """The columns of ``schema`` whose logical type is json."""
    return frozenset(c.name for c in schema.columns if c.type == "json")


def fingerprint_batches(
    batches: Iterable[pa.RecordBatch],
    *,
    json_columns: frozenset[str] = frozenset(),
    heartbeat: Callable[..., None] | None = None,
) -> Fingerprint:
    """Count rows and sum their hashes.

    Args:
        batches: The table's rows in any order.
        json_columns: Columns holding JSON text, compared by value rather than spelling.
        heartbeat: Called with the running row count after each batch (activities pass theirs).

    Returns:
        The fingerprint; equal data gives equal fingerprints regardless of row order.
    """
    rows = 0
    total = 0
    for batch in batches:
        for text in row_texts(batch, json_columns=json_columns):
            total += int.from_bytes(hashlib.blake2b(text.encode(), digest_size=16).digest(), "big")
        rows += batch.num_rows
        if heartbeat is not None:
            heartbeat(rows)
    return Fingerprint(rows=rows, content_hash=f"{total % _MOD:032x}")
