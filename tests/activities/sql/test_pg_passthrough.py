"""PostgreSQL -> PostgreSQL binary pages: only when storage types match; exact, resumable, idempotent."""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from activities.connections import ConnectionProfile
from activities.sql import open_connector
from activities.sql.pg_passthrough import binary_pages, can_pass_through
from infra.demo.load import create_and_load


def test_binary_pages_move_every_row_once_and_resume(pg_database: Callable[[str], str]) -> None:
    src_url, dst_url = pg_database("src"), pg_database("dst")
    create_and_load(src_url, scale=0.01)
    src = open_connector(ConnectionProfile(name="src", kind="postgresql", url=src_url))
    dst = open_connector(ConnectionProfile(name="dst", kind="postgresql", url=dst_url, write=True))
    with src, dst:
        schema = src.table_schema("order_lines")
        dst.ensure_table(schema)
        assert can_pass_through(src, dst, schema=schema, table="order_lines")
        key = list(schema.primary_key)
        common = {
            "schema": schema,
            "table": "order_lines",
            "order_by": key,
            "since": None,
            "since_column": None,
        }
        pages = list(binary_pages(src, dst, after=None, batch_rows=300, **common))
        assert sum(p.rows for p in pages) == sum(p.written for p in pages) == src.fingerprint(schema).rows
        assert dst.fingerprint(schema) == src.fingerprint(schema)
        # Resuming after the second page moves the rest again as no-op upserts (R8): 0 written.
        again = list(binary_pages(src, dst, after=pages[1].position, batch_rows=300, **common))
        assert sum(p.rows for p in again) == sum(p.rows for p in pages[2:])
        assert sum(p.written for p in again) == 0


def test_binary_pages_are_refused_when_storage_types_differ(pg_database: Callable[[str], str]) -> None:
    src_url, dst_url = pg_database("src"), pg_database("dst")
    create_and_load(src_url, scale=0.005)
    with psycopg.connect(dst_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE vans (van_id bigint PRIMARY KEY, plate text, capacity_cases numeric(20,0))"
        )
    src = open_connector(ConnectionProfile(name="src", kind="postgresql", url=src_url))
    dst = open_connector(ConnectionProfile(name="dst", kind="postgresql", url=dst_url, write=True))
    with src, dst:
        vans = src.table_schema("vans")
        assert not can_pass_through(src, dst, schema=vans, table="vans")  # columns missing / other types
        query = src.define_query("recent", "SELECT * FROM vans", key=["van_id"])
        assert not can_pass_through(src, dst, schema=query, table="vans")
