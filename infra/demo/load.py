"""(Re)create the van-sales demo tables in PostgreSQL, MariaDB or SQLite and bulk load them.

Each dialect gets its fastest path that needs no server configuration: COPY FROM STDIN
with CSV written by pyarrow for PostgreSQL, multi-row ``executemany`` inserts (one
transaction per table) for MariaDB, and one ``executemany`` transaction per table for SQLite.
``LOAD DATA LOCAL`` is not used because servers disable ``local_infile`` by default.
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pymysql
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from activities.errors import DatabaseError, InvalidInputError
from activities.sql.typemap import ddl_type
from infra.demo.vansales import TABLES, iter_batches
from workflows.types import TableSchema

Dialect = Literal["postgresql", "mysql", "sqlite"]
"""SQLAlchemy dialect names; MariaDB uses ``mysql``."""

Progress = Callable[[str, int], None]
"""Called as ``progress(table, rows_loaded_so_far)`` after every batch."""

_DRIVERS: dict[str, tuple[Dialect, str]] = {
    "postgresql": ("postgresql", "postgresql+psycopg"),
    "mysql": ("mysql", "mysql+pymysql"),
    "mariadb": ("mysql", "mysql+pymysql"),
    "sqlite": ("sqlite", "sqlite"),
}

# The one mapping table for driver failures on the load path; see _database_errors().
_DRIVER_ERRORS: tuple[type[Exception], ...] = (
    sa.exc.SQLAlchemyError,
    psycopg.Error,
    pymysql.err.Error,
    sqlite3.Error,
)


def create_and_load(
    url: str, *, scale: float = 1.0, seed: int = 42, progress: Progress | None = None
) -> dict[str, int]:
    """Drop and recreate the eight demo tables in a database and fill them.

    Args:
        url: SQLAlchemy-style URL: ``postgresql://...``, ``mysql://...`` / ``mariadb://...``
            (loaded with pymysql) or ``sqlite:////abs/path.db``. A ``+driver`` suffix is
            replaced by the driver this loader uses.
        scale: Multiplies row counts; 1.0 is about 100k order lines.
        seed: Same seed and scale give the same rows.
        progress: Optional callback after each loaded batch.

    Returns:
        Rows loaded per table, in load order.

    Raises:
        InvalidInputError: For an unsupported URL scheme.
        DatabaseError: If the database refuses a statement; the URL in the message has its
            password masked.
    """
    sa_url, dialect = _engine_url(url)
    engine = sa.create_engine(sa_url, poolclass=NullPool)
    counts: dict[str, int] = {}
    try:
        with _database_errors(sa_url):
            raw = engine.raw_connection()
            try:
                quote = engine.dialect.identifier_preparer.quote
                _recreate(raw, dialect=dialect, quote=quote)
                for schema in TABLES:
                    batches = _reporting(
                        schema.table, iter_batches(schema.table, seed=seed, scale=scale), progress
                    )
                    counts[schema.table] = _LOADERS[dialect](raw, schema=schema, batches=batches, quote=quote)
            finally:
                raw.close()
    finally:
        engine.dispose()
    return counts


def _engine_url(url: str) -> tuple[URL, Dialect]:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in _DRIVERS:
        raise InvalidInputError(f"demo data cannot be loaded into {backend!r} databases", url=_masked(parsed))
    dialect, driver = _DRIVERS[backend]
    return parsed.set(drivername=driver), dialect


def _masked(url: URL) -> str:
    return url.render_as_string(hide_password=True)


@contextmanager
def _database_errors(url: URL) -> Iterator[None]:
    try:
        yield
    except _DRIVER_ERRORS as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        masked = _masked(url)
        raise DatabaseError(f"loading demo data into {masked} failed: {detail}", url=masked) from None


def _reporting(
    table: str, batches: Iterator[pa.RecordBatch], progress: Progress | None
) -> Iterator[pa.RecordBatch]:
    loaded = 0
    for batch in batches:
        yield batch
        loaded += batch.num_rows
        if progress is not None:
            progress(table, loaded)


def _create_table(schema: TableSchema, *, dialect: Dialect, quote: Callable[[str], str]) -> str:
    columns = [
        f"{quote(c.name)} {ddl_type(c.type, dialect, key=c.name in schema.primary_key)}"
        + ("" if c.nullable else " NOT NULL")
        for c in schema.columns
    ]
    columns.append(f"PRIMARY KEY ({', '.join(quote(k) for k in schema.primary_key)})")
    return f"CREATE TABLE {quote(schema.table)} (\n  " + ",\n  ".join(columns) + "\n)"


def _recreate(raw: Any, *, dialect: Dialect, quote: Callable[[str], str]) -> None:
    cursor = raw.cursor()
    for schema in reversed(TABLES):
        cursor.execute(f"DROP TABLE IF EXISTS {quote(schema.table)}")
    for schema in TABLES:
        cursor.execute(_create_table(schema, dialect=dialect, quote=quote))
    cursor.close()
    raw.commit()


def _load_postgresql(
    raw: Any, *, schema: TableSchema, batches: Iterator[pa.RecordBatch], quote: Callable[[str], str]
) -> int:
    # CSV from pyarrow: NULL is an unquoted empty field and strings are quoted, which is
    # exactly what COPY ... (FORMAT csv) reads back; timestamps carry a 'Z' PostgreSQL accepts.
    columns = ", ".join(quote(c.name) for c in schema.columns)
    options = pacsv.WriteOptions(include_header=False)
    rows = 0
    conn: psycopg.Connection[Any] = raw.driver_connection
    with conn.cursor() as cursor:
        with cursor.copy(f"COPY {quote(schema.table)} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
            for batch in batches:
                sink = io.BytesIO()
                pacsv.write_csv(batch, sink, options)
                copy.write(sink.getvalue())
                rows += batch.num_rows
    conn.commit()
    return rows


def _as_python_rows(batch: pa.RecordBatch, *, text_values: bool) -> list[tuple[Any, ...]]:
    """Rows for DB-API executemany in the value types each driver stores faithfully.

    Zoned timestamps become naive UTC (neither MariaDB nor SQLite stores a zone); SQLite
    also gets decimals, dates and times as ISO text, which it has no native types for.
    """
    columns = []
    for array in batch.columns:
        if pa.types.is_timestamp(array.type) and array.type.tz is not None:
            array = pc.cast(array, pa.timestamp(array.type.unit))
        if text_values and (pa.types.is_decimal(array.type) or pa.types.is_temporal(array.type)):
            array = pc.cast(array, pa.string())
        columns.append(array.to_pylist())
    return list(zip(*columns, strict=True))


def _insert_sql(schema: TableSchema, *, quote: Callable[[str], str], marker: str) -> str:
    columns = ", ".join(quote(c.name) for c in schema.columns)
    markers = ", ".join(marker for _ in schema.columns)
    return f"INSERT INTO {quote(schema.table)} ({columns}) VALUES ({markers})"


def _load_executemany(
    raw: Any,
    *,
    schema: TableSchema,
    batches: Iterator[pa.RecordBatch],
    quote: Callable[[str], str],
    sqlite: bool,
) -> int:
    sql = _insert_sql(schema, quote=quote, marker="?" if sqlite else "%s")
    rows = 0
    cursor = raw.cursor()
    for batch in batches:
        cursor.executemany(sql, _as_python_rows(batch, text_values=sqlite))
        rows += batch.num_rows
    cursor.close()
    raw.commit()
    return rows


_LOADERS: dict[Dialect, Callable[..., int]] = {
    "postgresql": _load_postgresql,
    "mysql": lambda raw, **kw: _load_executemany(raw, sqlite=False, **kw),
    "sqlite": lambda raw, **kw: _load_executemany(raw, sqlite=True, **kw),
}
