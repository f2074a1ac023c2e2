"""Edge values through the Arrow-native PostgreSQL COPY path, and the same values on every dialect."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, localcontext

import pyarrow as pa
import pytest

from activities.arrowtypes import arrow_schema
from activities.connections import ConnectionProfile
from activities.errors import DatabaseError, SchemaMismatchError
from activities.sql import SqlConnector, open_connector
from tests.activities.sql.conftest import run_raw
from workflows.types import ColumnSchema, TableSchema

TEXTS = [
    "",
    None,
    "plain",
    "quote \" and 'single'",
    "comma, separated",
    "line\nbreak\r\nand cr",
    "back\\slash \\N \\.",
    "\\.",
    "NULL",
    "  spaced  ",
    "unicode é ü 中文 🚀",
    '"',
    ",",
]

# every logical type the COPY path handles, each nullable (key aside)
EDGE = TableSchema(
    table="edge",
    columns=(
        ColumnSchema(name="id", type="int64", nullable=False),
        ColumnSchema(name="s", type="string"),
        ColumnSchema(name="dmax", type="decimal(38,10)"),
        ColumnSchema(name="dwide", type="decimal(50,5)"),
        ColumnSchema(name="i16", type="int16"),
        ColumnSchema(name="i32", type="int32"),
        ColumnSchema(name="f64", type="float64"),
        ColumnSchema(name="f32", type="float32"),
        ColumnSchema(name="d", type="date"),
        ColumnSchema(name="ts", type="timestamp"),
        ColumnSchema(name="tz", type="timestamptz"),
        ColumnSchema(name="b", type="bool"),
        ColumnSchema(name="j", type="json"),
        ColumnSchema(name="t", type="time"),
    ),
    primary_key=("id",),
)


def edge_rows() -> list[dict]:
    with localcontext(prec=100):
        return _edge_rows()


def _edge_rows() -> list[dict]:
    rows = []
    for i, text in enumerate(TEXTS):
        sign = -1 if i % 2 else 1
        rows.append(
            {
                "id": i - 5,  # negative keys too
                "s": text,
                "dmax": sign * Decimal("9999999999999999999999999999.9999999999") / (i + 1),
                "dwide": sign * Decimal("123456789012345678901234567890123456789012345.12345") / (i + 1),
                "i16": sign * (32767 - i),
                "i32": sign * (2147483647 - i),
                "f64": sign * (0.1 + i * 1e-300 + (1e300 if i == 3 else 0)),
                "f32": sign * (1.5 + i),
                "d": [date(1, 1, 1), date(1582, 10, 4), date(9999, 12, 31)][i % 3]
                + timedelta(days=i % 3 == 0),
                "ts": datetime(1, 1, 1, 0, 0, 0, 1) + timedelta(days=400 * i, microseconds=i),
                "tz": datetime(1900, 3, 1, 23, 59, 59, 999999, tzinfo=UTC) + timedelta(days=30 * i),
                "b": i % 2 == 0,
                "j": json.dumps({"k": text, "n": [i, None, True], "é": "\\"}),
                "t": time(23, 59, 59, 999999) if i % 2 else time(0, 0, 0, i),
            }
        )
    rows.append({c.name: None for c in EDGE.columns} | {"id": 100})  # a NULL in every non-key column
    for row in rows:
        for name in ("dmax", "dwide"):
            if row[name] is not None:
                row[name] = row[name].quantize(Decimal("1e-10") if name == "dmax" else Decimal("1e-5"))
        if row["f32"] is not None:
            row["f32"] = float(pa.scalar(row["f32"], pa.float32()).as_py())
    return rows


def edge_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=arrow_schema(EDGE))


def pg(url: str, name: str = "pg", *, write: bool = True) -> SqlConnector:
    return open_connector(ConnectionProfile(name=name, kind="postgresql", url=url, write=write))


def canonical(rows: list[dict]) -> list[dict]:
    """JSON documents compared by value: jsonb respaces and reorders keys."""
    return [dict(r, j=None if r["j"] is None else json.loads(r["j"])) for r in rows]


def test_pg_edge_values_round_trip_through_copy_in_a_non_utc_session(pg_url: str) -> None:
    run_raw("postgresql", pg_url, ["DROP TABLE IF EXISTS edge"])
    rows = edge_rows()
    with pg(pg_url) as conn:
        conn.ensure_table(EDGE)
        conn.conn.execute("SET TimeZone = 'America/St_Johns'")  # -03:30, a half-hour offset
        assert conn.load(schema=EDGE, batch=edge_table(rows), key=["id"]) == len(rows)
        assert conn.load(schema=EDGE, batch=edge_table(rows), key=["id"]) == 0  # R8
        conn.conn.execute("SET TimeZone = 'Asia/Kathmandu'")
        batches = list(conn.extract(schema=EDGE, order_by=["id"], batch_rows=4))
        assert [b.num_rows for b in batches] == [4, 4, 4, 2]
        assert all(b.schema == arrow_schema(EDGE) for b in batches)
        got = pa.Table.from_batches(batches).to_pylist()
        assert canonical(got) == canonical(rows)
        # the server agrees on what was stored: NULL and '' distinct, instants in UTC
        check = conn.conn.execute(
            "SELECT count(*) FILTER (WHERE s IS NULL), count(*) FILTER (WHERE s = ''),"
            " min(tz AT TIME ZONE 'UTC')::text FROM edge"
        ).fetchone()
        assert check == (2, 1, "1900-03-01 23:59:59.999999")


def test_pg_copy_pages_resume_on_duplicate_cursor_values(pg_url: str) -> None:
    schema = TableSchema(
        table="pages",
        columns=(
            ColumnSchema(name="id", type="int32", nullable=False),
            ColumnSchema(name="at", type="timestamptz", nullable=False),
        ),
        primary_key=("id",),
    )
    at = [datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=i // 4) for i in range(12)]
    data = pa.table({"id": pa.array(range(12), pa.int32()), "at": pa.array(at, pa.timestamp("us", tz="UTC"))})
    run_raw("postgresql", pg_url, ["DROP TABLE IF EXISTS pages"])
    with pg(pg_url) as conn:
        conn.ensure_table(schema)
        conn.load(schema=schema, batch=data, key=["id"])
        order = ["at", "id"]
        # 12 rows in pages of 3: the last page is full, so one more (empty) COPY ends the read
        assert [b.num_rows for b in conn.extract(schema=schema, order_by=order, batch_rows=3)] == [3, 3, 3, 3]
        stream = conn.extract(
            schema=schema, order_by=order, batch_rows=3, since=at[2].isoformat(), since_column="at"
        )
        first = [next(stream), next(stream)]
        stream.close()
        position = json.loads(json.dumps(conn.position_of(first[-1], order)))
        assert position == [at[5].isoformat(), 5]
        rest = list(
            conn.extract(
                schema=schema,
                order_by=order,
                after=position,
                batch_rows=3,
                since=at[2].isoformat(),
                since_column="at",
            )
        )
        ids = [v for b in first + rest for v in b.column("id").to_pylist()]
        assert ids == list(range(12))


def test_pg_uuid_column_extracts_as_text_and_loads_back(pg_url: str) -> None:
    ids = [uuid.UUID(int=i * 7919) for i in range(5)]
    run_raw(
        "postgresql",
        pg_url,
        [
            "DROP TABLE IF EXISTS tokens",
            "DROP TABLE IF EXISTS tokens_copy",
            "CREATE TABLE tokens (id uuid PRIMARY KEY, other uuid)",
            "INSERT INTO tokens VALUES "
            + ", ".join(f"('{u}', {'NULL' if i == 2 else repr(str(u))})" for i, u in enumerate(ids)),
            "CREATE TABLE tokens_copy (id uuid PRIMARY KEY, other uuid)",
        ],
    )
    with pg(pg_url) as conn:
        schema = conn.table_schema("tokens")
        assert [c.type for c in schema.columns] == ["string", "string"]
        batch = pa.Table.from_batches(list(conn.extract(schema=schema, order_by=["id"], batch_rows=2)))
        assert batch.column("id").to_pylist() == [str(u) for u in ids]
        assert batch.column("other").null_count == 1
        assert conn.load(schema=schema, batch=batch, key=["id"], table="tokens_copy") == 5
        assert conn.load(schema=schema, batch=batch, key=["id"], table="tokens_copy") == 0
        queried = next(conn.query("SELECT id, other FROM tokens ORDER BY id"))
        assert queried.column(0).to_pylist() == [str(u) for u in ids]


def test_pg_binary_columns_take_the_row_path_and_keep_null_apart_from_empty(pg_url: str) -> None:
    schema = TableSchema(
        table="blobs",
        columns=(
            ColumnSchema(name="id", type="int32", nullable=False),
            ColumnSchema(name="data", type="binary"),
            ColumnSchema(name="note", type="string"),
        ),
        primary_key=("id",),
    )
    data = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int32()),
            "data": pa.array([b"", None, b'\x00\xff,\n"\\'], pa.binary()),
            "note": pa.array(["", None, "x"], pa.string()),
        }
    )
    run_raw("postgresql", pg_url, ["DROP TABLE IF EXISTS blobs"])
    with pg(pg_url) as conn:
        conn.ensure_table(schema)
        assert conn.load(schema=schema, batch=data, key=["id"]) == 3
        assert conn.load(schema=schema, batch=data, key=["id"]) == 0
        got = pa.Table.from_batches(list(conn.extract(schema=schema, order_by=["id"])))
        assert got.to_pylist() == data.to_pylist()


def test_pg_value_outside_arrow_range_is_a_schema_mismatch_naming_the_column(pg_url: str) -> None:
    run_raw(
        "postgresql",
        pg_url,
        [
            "DROP TABLE IF EXISTS ancient",
            "CREATE TABLE ancient (id int PRIMARY KEY, note text, d date)",
            "INSERT INTO ancient VALUES (1, 'secret-ish', '0044-03-15 BC')",
        ],
    )
    with pg(pg_url, "src", write=False) as conn:
        schema = conn.table_schema("ancient")
        with pytest.raises(SchemaMismatchError, match="column 'd'") as info:
            list(conn.extract(schema=schema, order_by=["id"]))
    assert info.value.fields == {"connection": "src", "table": "ancient", "column": "d"}
    assert "0044" not in str(info.value)  # the value itself stays out of the message


def test_pg_load_of_a_value_the_column_refuses_is_a_database_error(pg_url: str) -> None:
    run_raw(
        "postgresql", pg_url, ["DROP TABLE IF EXISTS nums", "CREATE TABLE nums (id int PRIMARY KEY, n int)"]
    )
    schema = TableSchema(
        table="nums",
        columns=(ColumnSchema(name="id", type="int32", nullable=False), ColumnSchema(name="n", type="int32")),
        primary_key=("id",),
    )
    bad = pa.table({"id": pa.array([1], pa.int32()), "n": pa.array(["not a number"], pa.string())})
    with pg(pg_url, "dst") as conn, pytest.raises(DatabaseError, match="'nums'"):
        conn.load(schema=schema, batch=bad, key=["id"])


def test_row_path_value_errors_name_the_column(sqlite_url: str) -> None:
    run_raw(
        "sqlite",
        sqlite_url,
        ["CREATE TABLE loose (id INTEGER PRIMARY KEY, qty INT)", "INSERT INTO loose VALUES (1, 'many')"],
    )
    with open_connector(ConnectionProfile(name="lite", kind="sqlite", url=sqlite_url)) as conn:
        schema = conn.table_schema("loose")
        with pytest.raises(SchemaMismatchError, match="column 'qty'") as info:
            list(conn.extract(schema=schema, order_by=["id"]))
    assert info.value.fields["column"] == "qty"


PORTABLE = TableSchema(
    table="portable",
    columns=(
        ColumnSchema(name="id", type="int64", nullable=False),
        ColumnSchema(name="s", type="string"),
        ColumnSchema(name="n", type="decimal(18,4)"),
        ColumnSchema(name="d", type="date"),
        ColumnSchema(name="ts", type="timestamp"),
        ColumnSchema(name="tz", type="timestamptz"),
        ColumnSchema(name="b", type="bool"),
        ColumnSchema(name="f", type="float64"),
    ),
    primary_key=("id",),
)


def test_text_edges_and_nulls_round_trip_on_every_dialect(kind: str, urls: dict[str, str]) -> None:
    rows = [
        {
            "id": i - 3,
            "s": text,
            "n": Decimal(f"{'-' if i % 2 else ''}{i * 12345}.{i:04d}"),
            "d": date(1999, 12, 31) + timedelta(days=i * 400),
            "ts": datetime(2000, 2, 29, 12, 0, 0, i),
            "tz": datetime(2038, 1, 1, 0, 0, i, tzinfo=UTC),
            "b": bool(i % 2),
            "f": -1.25 * i,
        }
        for i, text in enumerate(TEXTS)
    ]
    rows.append({c.name: None for c in PORTABLE.columns} | {"id": 100})
    data = pa.Table.from_pylist(rows, schema=arrow_schema(PORTABLE))
    run_raw(kind, urls[kind], ["DROP TABLE IF EXISTS portable"])
    profile = ConnectionProfile(name=kind, kind=kind, url=urls[kind], write=True)
    with open_connector(profile) as conn:
        conn.ensure_table(PORTABLE)
        assert conn.load(schema=PORTABLE, batch=data, key=["id"]) == len(rows)
        assert conn.load(schema=PORTABLE, batch=data, key=["id"]) == 0
        got = pa.Table.from_batches(list(conn.extract(schema=PORTABLE, order_by=["id"], batch_rows=5)))
        assert got.to_pylist() == rows
