from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pyarrow as pa
import pymysql
import pytest

from activities.arrowtypes import arrow_schema
from activities.connections import ConnectionProfile
from activities.sql import SqlConnector, open_connector
from workflows.types import ColumnSchema, TableSchema

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
KINDS = ("postgresql", "mysql", "sqlite")

ITEMS_DDL = {
    "postgresql": """CREATE TABLE items (id bigint PRIMARY KEY, name varchar(100) NOT NULL,
        price numeric(12,2),
        updated_at timestamp(6) NOT NULL, seen_at timestamptz, day date, active boolean, note text)""",
    "mysql": """CREATE TABLE items (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL, price DECIMAL(12,2),
        updated_at DATETIME(6) NOT NULL, seen_at TIMESTAMP(6) NULL, day DATE, active BOOLEAN, note TEXT)""",
    "sqlite": """CREATE TABLE items (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL, price DECIMAL(12,2),
        updated_at TIMESTAMP NOT NULL, seen_at TIMESTAMPTZ, day DATE, active BOOLEAN, note TEXT)""",
}
LINES_DDL = (
    "CREATE TABLE order_lines (order_id INT NOT NULL, line_no SMALLINT NOT NULL, qty INT NOT NULL, "
    "PRIMARY KEY (order_id, line_no))"
)

ITEMS = TableSchema(
    table="items",
    columns=(
        ColumnSchema(name="id", type="int64", nullable=False),
        ColumnSchema(name="name", type="string", nullable=False),
        ColumnSchema(name="price", type="decimal(12,2)"),
        ColumnSchema(name="updated_at", type="timestamp", nullable=False),
        ColumnSchema(name="seen_at", type="timestamptz"),
        ColumnSchema(name="day", type="date"),
        ColumnSchema(name="active", type="bool"),
        ColumnSchema(name="note", type="string"),
    ),
    primary_key=("id",),
)
LINES = TableSchema(
    table="order_lines",
    columns=(
        ColumnSchema(name="order_id", type="int32", nullable=False),
        ColumnSchema(name="line_no", type="int16", nullable=False),
        ColumnSchema(name="qty", type="int32", nullable=False),
    ),
    primary_key=("order_id", "line_no"),
)
BASE = datetime(2024, 1, 1, 8, 0, 0, 123456)


def item_rows(n: int = 25) -> list[dict]:
    return [
        {
            "id": i,
            "name": f"item {i}; with 'quote'",
            "price": None if i % 7 == 0 else Decimal(f"{i * 1234567}.{i % 100:02d}"),
            "updated_at": BASE + timedelta(hours=i, microseconds=i),
            "seen_at": None if i % 5 == 0 else (BASE + timedelta(days=i)).replace(tzinfo=UTC),
            "day": date(2024, 2, 1) + timedelta(days=i),
            "active": None if i % 6 == 0 else i % 2 == 0,
            "note": None if i % 3 == 0 else f"note é {i}",
        }
        for i in range(1, n + 1)
    ]


def items_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=arrow_schema(ITEMS))


def lines_table() -> pa.Table:
    rows = [{"order_id": o, "line_no": n, "qty": o * 10 + n} for o in range(1, 6) for n in range(1, 5)]
    return pa.Table.from_pylist(rows, schema=arrow_schema(LINES))


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    name = f"vsc_sql_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def maria_admin() -> pymysql.connections.Connection:
    return pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)


@pytest.fixture(scope="module")
def mysql_url() -> Iterator[str]:
    name = f"vsc_sql_{uuid.uuid4().hex[:12]}"
    with maria_admin() as admin, admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
    try:
        yield f"mysql://root@127.0.0.1:3306/{name}"
    finally:
        with maria_admin() as admin, admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'vsc.db'}"


def run_raw(kind: str, url: str, statements: list[str]) -> None:
    """Set up tables with the driver directly, so discovery sees hand-written DDL."""
    profile = ConnectionProfile(name="setup", kind=kind, url=url, write=True)
    with open_connector(profile) as conn:
        for statement in statements:
            conn._execute_ddl(statement)


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def urls(request: pytest.FixtureRequest, sqlite_url: str) -> dict[str, str]:
    return {
        "postgresql": request.getfixturevalue("pg_url"),
        "mysql": request.getfixturevalue("mysql_url"),
        "sqlite": sqlite_url,
    }


def make_seeded(kind: str, url: str) -> None:
    run_raw(
        kind,
        url,
        ["DROP TABLE IF EXISTS items", "DROP TABLE IF EXISTS order_lines", ITEMS_DDL[kind], LINES_DDL],
    )
    with open_connector(ConnectionProfile(name="seed", kind=kind, url=url, write=True)) as conn:
        assert conn.load(schema=ITEMS, batch=items_table(item_rows()), key=["id"]) == 25
        assert conn.load(schema=LINES, batch=lines_table(), key=["order_id", "line_no"]) == 20


@pytest.fixture
def seeded(kind: str, urls: dict[str, str]) -> Iterator[SqlConnector]:
    """A read-only connector on a freshly seeded ``items`` + ``lines`` database of one kind."""
    make_seeded(kind, urls[kind])
    with open_connector(ConnectionProfile(name=f"src-{kind}", kind=kind, url=urls[kind])) as conn:
        yield conn


@pytest.fixture
def writable(kind: str, urls: dict[str, str]) -> Iterator[SqlConnector]:
    make_seeded(kind, urls[kind])
    with open_connector(ConnectionProfile(name=f"dst-{kind}", kind=kind, url=urls[kind], write=True)) as conn:
        yield conn
