"""The MariaDB source: the same ``firenibble`` rows in a throwaway MariaDB database.

The rows come from the PostgreSQL source (``COPY ... (FORMAT csv)`` into ``LOAD DATA LOCAL
INFILE``), so a copy from MariaDB into PostgreSQL must hash equal to the PostgreSQL source
table under :func:`bench.pg.parity`'s type casts. Column types are MariaDB's nearest ones:
``FLOAT`` for ``real`` (float32 round-trips exactly through its shortest text), ``DATETIME(6)``
for ``timestamp``, ``TIMESTAMP(6)`` (stored UTC) for ``timestamptz``, ``BOOLEAN`` for ``boolean``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pymysql

from bench.data import SourceTable

HOST, PORT, USER = "127.0.0.1", 3306, "root"
NAME_PREFIX = "vscb_"
TABLE = "firenibble"

FIRENIBBLE_DDL = """
CREATE TABLE firenibble (
  f0 BIGINT PRIMARY KEY, f1 INT NOT NULL, f2 SMALLINT NOT NULL, f3 BIGINT NOT NULL,
  f4 DOUBLE NOT NULL, f5 DOUBLE NOT NULL, f6 DECIMAL(12,2) NOT NULL, f7 BOOLEAN NOT NULL,
  f8 DATE NOT NULL, f9 DATETIME(6) NOT NULL, f10 TIMESTAMP(6) NOT NULL DEFAULT '2000-01-01 00:00:00',
  f11 TEXT NOT NULL, f12 TEXT NOT NULL, f13 TEXT NOT NULL, f14 TEXT NOT NULL, f15 TEXT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""
# booleans as 1/0 and timestamptz as its UTC wall time: what LOAD DATA reads into the types above
_EXPORT = (
    "COPY (SELECT f0, f1, f2, f3, f4, f5, f6, f7::int, f8, f9, f10 AT TIME ZONE 'UTC', "
    "f11, f12, f13, f14, f15 FROM firenibble ORDER BY f0) TO STDOUT (FORMAT csv, NULL 'NULL')"
)
# with an empty escape character, LOAD DATA reads the unquoted word NULL as NULL
_LOAD = (
    "LOAD DATA LOCAL INFILE %s INTO TABLE firenibble CHARACTER SET utf8mb4 "
    "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '' LINES TERMINATED BY '\\n'"
)


def mysql_url(database: str) -> str:
    """The connection URL of ``database`` on the benchmark's MariaDB server."""
    return f"mysql://{USER}@{HOST}:{PORT}/{database}"


def _connect(database: str | None = None) -> pymysql.connections.Connection:
    return pymysql.connect(
        host=HOST,
        port=PORT,
        user=USER,
        database=database,
        autocommit=True,
        local_infile=True,
        init_command="SET time_zone = '+00:00'",
    )


@contextmanager
def mariadb_source(*, pg_source: SourceTable, workdir: Path) -> Iterator[SourceTable]:
    """A fresh MariaDB database holding ``pg_source``'s ``firenibble`` rows, dropped on exit.

    Raises:
        RuntimeError: MariaDB holds another number of rows than the PostgreSQL source.
    """
    name = f"{NAME_PREFIX}my_{uuid.uuid4().hex[:10]}"
    admin = _connect()
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}`")
        csv = workdir / "firenibble.csv"
        with psycopg.connect(pg_source.src_url, options="-c TimeZone=UTC") as pg, csv.open("wb") as out:
            with pg.cursor().copy(_EXPORT) as copy:
                for chunk in copy:
                    out.write(chunk)
        with _connect(name) as conn, conn.cursor() as cur:
            cur.execute(FIRENIBBLE_DDL)
            cur.execute(_LOAD, [str(csv)])
            cur.execute("ANALYZE TABLE firenibble")
            cur.fetchall()
            cur.execute("SELECT COUNT(*) FROM firenibble")
            (rows,) = cur.fetchone()
        csv.unlink()
        if rows != pg_source.rows:
            raise RuntimeError(f"MariaDB source holds {rows} rows, the PostgreSQL source {pg_source.rows}")
        yield pg_source.model_copy(
            update={"name": f"{TABLE} (MariaDB)", "src_url": mysql_url(name), "engine": "mariadb"}
        )
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()
