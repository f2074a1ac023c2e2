"""PostgreSQL plumbing for the benchmark: throwaway databases, schema copies, parity checks.

Every database the benchmark makes goes through :class:`Databases`, so one ``finally`` can drop
them all whatever failed; the server is shared with other engineers' tests, hence the unique names.
"""

from __future__ import annotations

import subprocess
import uuid
from types import TracebackType
from typing import Any

import psycopg
from psycopg import sql as pgsql
from pydantic import BaseModel

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SERVER_URL = "postgresql://postgres@127.0.0.1:5432"
NAME_PREFIX = "vscb_"


def db_url(name: str) -> str:
    """The libpq URL of database ``name`` on the benchmark server."""
    return f"{SERVER_URL}/{name}"


class Databases:
    """Creates uniquely named databases and drops every one of them on exit, even after a failure."""

    def __init__(self, *, admin_url: str = ADMIN_URL) -> None:
        self.admin_url = admin_url
        self.created: list[str] = []

    def create(self, label: str) -> str:
        """Create ``vscb_<label>_<hex>`` and return its URL."""
        name = f"{NAME_PREFIX}{label}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
        self.created.append(name)
        return db_url(name)

    def drop(self, url: str) -> None:
        """Drop one database made here (open sessions are terminated)."""
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name)))
        if name in self.created:
            self.created.remove(name)

    def drop_all(self) -> None:
        """Drop every database still alive; tries all of them before raising the first error."""
        first: Exception | None = None
        for name in list(self.created):
            try:
                self.drop(db_url(name))
            except Exception as exc:  # keep dropping the others, report the first failure
                first = first or exc
        if first is not None:
            raise first

    def __enter__(self) -> Databases:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.drop_all()


def run_sql(url: str, statement: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """Run one statement in autocommit mode and return its rows (empty for commands)."""
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement, params)
        return cur.fetchall() if cur.description else []


def copy_schema(*, src_url: str, dst_url: str, table: str) -> None:
    """Recreate ``table``'s DDL (columns, primary key) in the destination: ``pg_dump -s -t | psql``."""
    dump = subprocess.run(
        ["pg_dump", "--schema-only", "--no-owner", "--no-privileges", "-t", table, src_url],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["psql", "-q", "-v", "ON_ERROR_STOP=1", dst_url],
        input=dump.stdout,
        check=True,
        capture_output=True,
    )


def checkpoint() -> None:
    """Flush dirty buffers so one run's writes are not paid for by the next run."""
    run_sql(ADMIN_URL, "CHECKPOINT")


class Parity(BaseModel):
    """Row count and an ordered content hash of one table."""

    rows: int
    md5: str | None


def parity(
    url: str, *, table: str, key: list[str], columns: list[tuple[str, str]], schema: str = "public"
) -> Parity:
    """``count(*)`` and ``md5(string_agg(md5(ROW(c::text::type, ...)::text), '' ORDER BY key))``.

    ``columns`` are the *source* table's (name, SQL type) pairs: every column is cast through
    text to the source's type, so a peer that created its own table with other types (``real``
    as ``double precision``, ``numeric(12,2)`` as ``numeric``, ``timestamp`` as ``timestamptz``)
    still hashes equal exactly when every value survived, and a lost digit, microsecond or NULL
    does not. On the source itself the casts are the identity. ``TimeZone`` is pinned to UTC so
    ``timestamptz`` prints the same for both sides.
    """
    row = pgsql.SQL(", ").join(
        pgsql.SQL("{}::text::{}").format(pgsql.Identifier(name), pgsql.SQL(sql_type))  # type from pg_catalog
        for name, sql_type in columns
    )
    order = pgsql.SQL(", ").join(pgsql.Identifier(k) for k in key)
    query = pgsql.SQL(
        "SELECT count(*), md5(string_agg(md5(ROW({})::text), '' ORDER BY {})) FROM {}.{} t"
    ).format(row, order, pgsql.Identifier(schema), pgsql.Identifier(table))
    with psycopg.connect(url, options="-c TimeZone=UTC") as conn:
        rows, digest = conn.execute(query).fetchone()  # type: ignore[misc]
    return Parity(rows=rows, md5=digest)


def column_types(url: str, *, table: str) -> list[tuple[str, str]]:
    """``table``'s columns as (name, ``format_type``) pairs in column order."""
    rows = run_sql(
        url,
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        [table],
    )
    return [(r[0], r[1]) for r in rows]


def primary_key(url: str, *, table: str) -> list[str]:
    """Primary-key columns of ``table`` in key order."""
    rows = run_sql(
        url,
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = to_regclass(%s) AND i.indisprimary "
        "ORDER BY array_position(i.indkey::int2[], a.attnum)",
        [table],
    )
    return [r[0] for r in rows]


def binary_copy_bytes(url: str, *, table: str) -> int:
    """Size of the table as ``COPY ... (FORMAT binary)``: the byte count every MB/s figure divides."""
    total = 0
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        query = pgsql.SQL("COPY {} TO STDOUT (FORMAT binary)").format(pgsql.Identifier(table))
        with cur.copy(query) as copy:
            for chunk in copy:
                total += len(chunk)
    return total
