"""PostgreSQL -> PostgreSQL without decoding: binary COPY bytes go straight into the staging table.

When both ends are PostgreSQL, no transform applies and every column has the same storage type
on both sides, a page of rows never needs to become Arrow or Python values: the source's
``COPY (page) TO STDOUT (FORMAT binary)`` is written unchanged into the destination's staging
table and upserted from there. Only the page's last key is decoded, for the resume position.
The page and its last key are read in one repeatable-read snapshot, so they always agree.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from activities.sql.connector import SqlConnector
from activities.sql.postgres import PostgresConnector
from activities.sql.values import to_json_value
from workflows.types import TableSchema

__all__ = ["Page", "binary_pages", "can_pass_through"]

# Storage types whose binary wire format is identical, so bytes may cross between them.
_SAME_BINARY = ({"text", "varchar"},)


@dataclass(frozen=True)
class Page:
    """One page moved: rows read, rows inserted or changed, and the JSON position after it."""

    rows: int
    written: int
    position: list[Any]


def _storage_types(conn: PostgresConnector, table: str) -> dict[str, str]:
    with conn.conn.transaction(), conn.conn.cursor() as cur:
        cur.execute(
            "SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
            "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped",
            [conn.quote(table)],
        )
        return dict(cur.fetchall())


def _same_binary(a: str, b: str) -> bool:
    return a == b or any(a in group and b in group for group in _SAME_BINARY)


def can_pass_through(
    source: SqlConnector, destination: SqlConnector, *, schema: TableSchema, table: str
) -> bool:
    """Whether pages of ``schema`` may move as raw binary COPY bytes into ``table``.

    Query sources and tables whose columns differ in storage type (``int4`` into ``int8``,
    ``json`` into ``jsonb``, ``uuid`` into ``text`` ...) take the Arrow path instead.
    """
    if not (isinstance(source, PostgresConnector) and isinstance(destination, PostgresConnector)):
        return False
    if schema.table in source._queries:
        return False
    src = _storage_types(source, schema.table)
    dst = _storage_types(destination, table)
    return all(
        c.name in src and c.name in dst and _same_binary(src[c.name], dst[c.name]) for c in schema.columns
    )


def binary_pages(
    source: PostgresConnector,
    destination: PostgresConnector,
    *,
    schema: TableSchema,
    table: str,
    order_by: Sequence[str],
    after: Sequence[Any] | None,
    since: Any | None,
    since_column: str | None,
    batch_rows: int,
) -> Iterator[Page]:
    """Move ``schema``'s rows page by page in keyset order, each page upserted in one transaction."""
    types = {c.name: c.type for c in schema.columns}
    key = list(schema.primary_key)
    position = list(after) if after is not None else None
    with_since = since_column if since is not None else None
    while True:
        sql, params = source._keyset_query(
            schema, order_by, after=position, since=since, since_column=with_since
        )
        page_sql = f"{sql} LIMIT {int(batch_rows)}"
        with source._errors(schema.table):
            data, rows, last = _read_page(source, page_sql, params, order_by)
        if rows == 0:
            return

        def fill(copy: Any, payload: bytes = data) -> None:
            copy.write(payload)

        with destination._errors(table):
            written = destination._stage_and_upsert(
                schema=schema, table=table, key=key, fill=fill, options=" (FORMAT binary)"
            )
        position = [to_json_value(types[name], value) for name, value in zip(order_by, last, strict=True)]
        yield Page(rows=rows, written=written, position=position)
        if rows < batch_rows:
            return


def _read_page(
    conn: PostgresConnector, page_sql: str, params: Sequence[Any], order_by: Sequence[str]
) -> tuple[bytes, int, tuple[Any, ...]]:
    cols = ", ".join(conn.quote(c) for c in order_by)
    desc = ", ".join(f"{conn.quote(c)} DESC" for c in order_by)
    pg = conn.conn
    pg.read_only = True
    try:
        with pg.transaction(), pg.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            chunks: list[bytes] = []
            with cur.copy(f"COPY ({page_sql}) TO STDOUT (FORMAT binary)", params or None) as copy:
                for chunk in copy:
                    chunks.append(bytes(chunk))
            rows = max(cur.rowcount, 0)
            last: tuple[Any, ...] = ()
            if rows:
                cur.execute(
                    f"SELECT {cols} FROM ({page_sql}) AS page ORDER BY {desc} LIMIT 1", params or None
                )
                found = cur.fetchone()
                assert found is not None
                last = tuple(found)
            return b"".join(chunks), rows, last
    finally:
        pg.read_only = False
