"""Deterministic source tables: the van-sales ``order_lines`` and the 16-column ``firenibble``.

``firenibble`` is built server-side with ``generate_series`` from pure functions of the row
number (no ``random()``), so every run and every machine gets byte-identical data; its column mix
(integers, floats, a decimal, temporal types, text, a nullable column) gives about 300 bytes
per row in binary COPY, the shape of the 1M-row table in /work/shared/BENCHMARKS.md. ``f14`` holds
uuid-shaped *text*: a native ``uuid`` column fails our PostgreSQL extract today (psycopg returns
``uuid.UUID`` objects, which the Arrow conversion of logical ``string`` does not accept).
"""

from __future__ import annotations

from psycopg import sql as pgsql
from pydantic import BaseModel

from bench.pg import binary_copy_bytes, column_types, parity, primary_key, run_sql
from infra.demo.load import create_and_load

FIRENIBBLE_DDL = """
CREATE TABLE {table} (
  f0 bigint PRIMARY KEY,
  f1 integer NOT NULL,
  f2 smallint NOT NULL,
  f3 bigint NOT NULL,
  f4 double precision NOT NULL,
  f5 real NOT NULL,
  f6 numeric(12,2) NOT NULL,
  f7 boolean NOT NULL,
  f8 date NOT NULL,
  f9 timestamp NOT NULL,
  f10 timestamptz NOT NULL,
  f11 text NOT NULL,
  f12 text NOT NULL,
  f13 text NOT NULL,
  f14 text NOT NULL,
  f15 text
)
"""

FIRENIBBLE_FILL = """
INSERT INTO {table}
SELECT i,
       (i * 7919) % 1000003,
       (i % 32000)::smallint,
       i * 1000003,
       i / 7.0::float8,
       i::real / 3,
       ((i * 37) % 10000000)::numeric / 100,
       i % 3 = 0,
       date '2020-01-01' + (i % 3650)::int,
       timestamp '2020-01-01' + i * interval '1 second' + (i % 1000) * interval '1 microsecond',
       timestamptz '2020-01-01 00:00:00+00' + i * interval '7 seconds',
       'name-' || (i % 100000),
       md5(i::text),
       md5((i + 1)::text) || md5((i + 2)::text),
       md5((i * 3)::text)::uuid::text,
       CASE WHEN i % 10 = 0 THEN NULL ELSE 'note ' || md5((i * 5)::text) END
FROM generate_series(1::bigint, {rows}) AS i
"""


BIG_TABLE = "firenibble_5m"
"""``--big``: the same generator at 5M rows, for the agent's memory growth from 1M to 5M rows."""


class SourceTable(BaseModel):
    """One prepared source table and the figures every run is checked and measured against.

    ``name`` labels the table in records and the summary (``firenibble (MariaDB)`` for the
    MariaDB copy of ``firenibble``); ``columns`` are the PostgreSQL source's (name, type) pairs
    that :func:`bench.pg.parity` casts every destination to.
    """

    name: str
    table: str
    src_url: str
    engine: str = "postgresql"
    key: list[str]
    columns: list[tuple[str, str]]
    rows: int
    md5: str | None
    binary_bytes: int


def describe(url: str, table: str) -> SourceTable:
    """Count, hash and binary COPY size of a source table (after ``VACUUM ANALYZE``)."""
    run_sql(url, f'VACUUM ANALYZE "{table}"')
    key = primary_key(url, table=table)
    columns = column_types(url, table=table)
    found = parity(url, table=table, key=key, columns=columns)
    return SourceTable(
        name=table,
        table=table,
        src_url=url,
        key=key,
        columns=columns,
        rows=found.rows,
        md5=found.md5,
        binary_bytes=binary_copy_bytes(url, table=table),
    )


def load_firenibble(url: str, *, rows: int, table: str = "firenibble") -> None:
    """Create and fill ``table`` (``firenibble``'s columns) with ``rows`` rows in the database at ``url``."""
    name = pgsql.Identifier(table)
    run_sql(url, pgsql.SQL(FIRENIBBLE_DDL).format(table=name).as_string())
    run_sql(url, pgsql.SQL(FIRENIBBLE_FILL).format(table=name, rows=pgsql.Literal(rows)).as_string())


def prepare_source(url: str, *, scale: float, rows: int, big_rows: int | None = None) -> list[SourceTable]:
    """Fill the source with both benchmark tables (and ``firenibble_5m`` if asked) and describe them."""
    create_and_load(url, scale=scale)
    load_firenibble(url, rows=rows)
    tables = [describe(url, "order_lines"), describe(url, "firenibble")]
    if big_rows:
        load_firenibble(url, rows=big_rows, table=BIG_TABLE)
        tables.append(describe(url, BIG_TABLE))
    return tables
