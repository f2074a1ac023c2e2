"""The type-cast content hash: a peer's own wider column types hash equal, a changed value does not."""

from __future__ import annotations

from bench.data import SourceTable, describe, load_firenibble
from bench.pg import Databases, Parity, parity, run_sql

# what dlt and sling create for firenibble: real -> double precision, numeric(12,2) -> numeric,
# timestamp -> timestamptz, text -> varchar, in their own schema
WIDER = """
CREATE SCHEMA peer;
CREATE TABLE peer.firenibble AS SELECT f0, f1::bigint AS f1, f2::bigint AS f2, f3, f4,
  f5::double precision AS f5, f6::numeric AS f6, f7, f8, f9 AT TIME ZONE 'UTC' AS f9, f10,
  f11::varchar AS f11, f12::varchar AS f12, f13::varchar AS f13, f14::varchar AS f14, f15::varchar AS f15
FROM public.firenibble
"""


def test_a_copy_with_wider_column_types_hashes_equal_to_its_source() -> None:
    with Databases() as dbs:
        src = dbs.create("src")
        load_firenibble(src, rows=300)
        source = describe(src, "firenibble")
        run_sql(src, "SET TimeZone = 'UTC'; " + WIDER)
        found = parity(src, table="firenibble", key=source.key, columns=source.columns, schema="peer")
        assert (found.rows, found.md5) == (source.rows, source.md5)


def found_equal(source: SourceTable) -> Parity:
    return Parity(rows=source.rows, md5=source.md5)


def test_one_lost_microsecond_or_null_changes_the_hash() -> None:
    with Databases() as dbs:
        src = dbs.create("src")
        load_firenibble(src, rows=300)
        source = describe(src, "firenibble")
        run_sql(src, "SET TimeZone = 'UTC'; " + WIDER)
        run_sql(src, "UPDATE peer.firenibble SET f9 = date_trunc('second', f9) WHERE f0 = 42")
        lost_micro = parity(src, table="firenibble", key=source.key, columns=source.columns, schema="peer")
        run_sql(
            src, "UPDATE peer.firenibble SET f9 = f9 + interval '42 microseconds' WHERE f0 = 42"
        )  # restored
        assert parity(
            src, table="firenibble", key=source.key, columns=source.columns, schema="peer"
        ) == found_equal(source)
        run_sql(src, "UPDATE peer.firenibble SET f15 = '' WHERE f0 = 40 AND f15 IS NULL")
        null_to_empty = parity(src, table="firenibble", key=source.key, columns=source.columns, schema="peer")
        assert lost_micro.rows == null_to_empty.rows == source.rows
        assert lost_micro.md5 != source.md5 and null_to_empty.md5 != source.md5
