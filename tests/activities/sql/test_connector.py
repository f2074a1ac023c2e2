from __future__ import annotations

import json

import pyarrow as pa
import pytest

from activities.arrowtypes import arrow_schema
from activities.connections import ConnectionProfile
from activities.errors import (
    InvalidInputError,
    SchemaMismatchError,
    TableNotFoundError,
    WriteNotGrantedError,
)
from activities.sql import SqlConnector, open_connector
from tests.activities.sql.conftest import (
    ITEMS,
    KINDS,
    LINES,
    item_rows,
    items_table,
    make_seeded,
)
from workflows.types import ColumnSchema, TableSchema


def all_ids(batches: list[pa.RecordBatch], column: str = "id") -> list:
    return [v for b in batches for v in b.column(column).to_pylist()]


def test_discover_gives_same_logical_schema_on_all_three(urls: dict[str, str]) -> None:
    found = {}
    for kind in KINDS:
        make_seeded(kind, urls[kind])
        with open_connector(ConnectionProfile(name=kind, kind=kind, url=urls[kind])) as conn:
            found[kind] = conn.discover(["items", "order_lines"])
            assert sorted(s.table for s in conn.discover()) == ["items", "order_lines"]
    assert found["postgresql"] == [ITEMS, LINES]
    assert found["mysql"] == [ITEMS, LINES]
    assert found["sqlite"] == [ITEMS, LINES]


def test_extract_batches_are_typed_and_resume_gives_every_row_once(seeded: SqlConnector) -> None:
    batches = list(seeded.extract(schema=ITEMS, order_by=["id"], batch_rows=7))
    assert [b.num_rows for b in batches] == [7, 7, 7, 4]
    assert all(b.schema == arrow_schema(ITEMS) for b in batches)
    assert pa.Table.from_batches(batches).to_pylist() == item_rows()

    stream = seeded.extract(schema=ITEMS, order_by=["id"], batch_rows=7)
    first = [next(stream), next(stream)]
    stream.close()  # a crash after two batches: only the heartbeat position survives
    position = json.loads(json.dumps(seeded.position_of(first[-1], ["id"])))
    rest = list(seeded.extract(schema=ITEMS, order_by=["id"], after=position, batch_rows=7))
    assert all_ids(first) + all_ids(rest) == list(range(1, 26))


def test_extract_resumes_on_composite_key(seeded: SqlConnector) -> None:
    order = ["order_id", "line_no"]
    head = next(seeded.extract(schema=LINES, order_by=order, batch_rows=6))
    position = json.loads(json.dumps(seeded.position_of(head, order)))
    assert position == [2, 2]
    rest = list(seeded.extract(schema=LINES, order_by=order, after=position, batch_rows=6))
    keys = list(
        zip(
            all_ids([head], "order_id") + all_ids(rest, "order_id"),
            all_ids([head], "line_no") + all_ids(rest, "line_no"),
            strict=True,
        )
    )
    assert keys == [(o, n) for o in range(1, 6) for n in range(1, 5)]


def test_extract_incremental_since_cursor_with_timestamp_position(seeded: SqlConnector) -> None:
    rows = item_rows()
    since = rows[19]["updated_at"].isoformat()
    order = ["updated_at", "id"]
    batches = list(
        seeded.extract(schema=ITEMS, order_by=order, since=since, since_column="updated_at", batch_rows=2)
    )
    assert all_ids(batches) == [20, 21, 22, 23, 24, 25]
    position = json.loads(json.dumps(seeded.position_of(batches[0], order)))
    assert position == [rows[20]["updated_at"].isoformat(), 21]
    rest = list(
        seeded.extract(schema=ITEMS, order_by=order, after=position, since=since, since_column="updated_at")
    )
    assert all_ids(rest) == [22, 23, 24, 25]


def test_extract_resumes_after_decimal_and_timestamptz_positions(seeded: SqlConnector) -> None:
    order = ["seen_at", "id"]
    schema = ITEMS
    batches = list(
        seeded.extract(
            schema=schema,
            order_by=order,
            since="2024-01-10T00:00:00+00:00",
            since_column="seen_at",
            batch_rows=3,
        )
    )
    position = json.loads(json.dumps(seeded.position_of(batches[0], order)))
    assert isinstance(position[0], str)
    rest = list(
        seeded.extract(
            schema=schema,
            order_by=order,
            after=position,
            since="2024-01-10T00:00:00+00:00",
            since_column="seen_at",
        )
    )
    assert all_ids(batches[:1]) + all_ids(rest) == all_ids(batches)


def test_extract_unknown_order_column_is_refused(seeded: SqlConnector) -> None:
    with pytest.raises(InvalidInputError, match="nope"):
        list(seeded.extract(schema=ITEMS, order_by=["nope"]))


def test_load_upsert_second_identical_load_writes_nothing(writable: SqlConnector) -> None:
    rows = item_rows()
    before = writable.fingerprint(ITEMS)
    assert writable.load(schema=ITEMS, batch=items_table(rows), key=["id"]) == 0  # R8: identical input
    assert writable.fingerprint(ITEMS) == before

    changed = [dict(r, note="changed") if r["id"] in (1, 2, 3) else r for r in rows]
    changed.append(dict(rows[0], id=99))
    assert writable.load(schema=ITEMS, batch=items_table(changed), key=["id"]) == 4
    after = writable.fingerprint(ITEMS)
    assert after.rows == 26 and after.content_hash != before.content_hash
    assert writable.load(schema=ITEMS, batch=items_table(changed), key=["id"]) == 0
    assert writable.fingerprint(ITEMS) == after


def test_load_all_key_table_is_idempotent(writable: SqlConnector) -> None:
    keys_only = TableSchema(table="line_keys", columns=LINES.columns[:2], primary_key=LINES.primary_key)
    writable.ensure_table(keys_only)
    batch = pa.table({"order_id": pa.array([1, 7], pa.int32()), "line_no": pa.array([1, 1], pa.int16())})
    assert writable.load(schema=keys_only, batch=batch, key=["order_id", "line_no"]) == 2
    assert writable.load(schema=keys_only, batch=batch, key=["order_id", "line_no"]) == 0
    assert writable.fingerprint(keys_only).rows == 2


def test_locked_rows_and_load_share_one_write_transaction(writable: SqlConnector) -> None:
    """The 3.4.3 lost-update guard: keyed rows read under lock, then upserted in the same transaction."""
    rows = item_rows()
    wanted = items_table([rows[0], rows[4], dict(rows[0], id=99)])  # 99 does not exist
    with writable.write_transaction():
        held = writable.locked_rows(ITEMS, wanted, table="items")
    assert held.to_pylist() == items_table([rows[0], rows[4]]).to_pylist()  # typed as extract's rows
    before = writable.fingerprint(ITEMS)
    changed = items_table([dict(rows[0], note="changed")])
    with pytest.raises(RuntimeError), writable.write_transaction():
        assert writable.load(schema=ITEMS, batch=changed, key=["id"]) == 1
        raise RuntimeError("the guard's transaction fails after the upsert")
    assert writable.fingerprint(ITEMS) == before  # the upsert joined it and was rolled back
    with writable.write_transaction():
        assert writable.load(schema=ITEMS, batch=changed, key=["id"]) == 1
    assert writable.fingerprint(ITEMS) != before


def test_load_without_write_grant_is_refused(seeded: SqlConnector) -> None:
    before = seeded.fingerprint(ITEMS)
    with pytest.raises(WriteNotGrantedError, match=seeded.profile.name) as info:
        seeded.load(schema=ITEMS, batch=items_table([dict(item_rows()[0], note="x")]), key=["id"])
    assert info.value.fields["table"] == "items"
    with pytest.raises(WriteNotGrantedError):
        seeded.ensure_table(ITEMS, table="other")
    assert seeded.fingerprint(ITEMS) == before


def test_ensure_table_creates_then_accepts_then_names_mismatched_column(writable: SqlConnector) -> None:
    writable.ensure_table(ITEMS, table="items_copy")
    writable.ensure_table(ITEMS, table="items_copy")
    assert writable.table_schema("items_copy").model_copy(update={"table": "items"}) == ITEMS
    wrong = ITEMS.model_copy(
        update={"columns": (*ITEMS.columns[:-1], ColumnSchema(name="note", type="int64"))}
    )
    with pytest.raises(SchemaMismatchError, match="'note'") as info:
        writable.ensure_table(wrong)
    assert info.value.fields == {
        "connection": writable.profile.name,
        "table": "items",
        "column": "note",
        "source_type": "int64",
        "dest_type": "string",
    }
    extra = ITEMS.model_copy(update={"columns": (*ITEMS.columns, ColumnSchema(name="extra", type="date"))})
    with pytest.raises(SchemaMismatchError, match="'extra'"):
        writable.ensure_table(extra)


def test_round_trip_pg_maria_sqlite_keeps_fingerprint(urls: dict[str, str]) -> None:
    make_seeded("postgresql", urls["postgresql"])
    profiles = {k: ConnectionProfile(name=k, kind=k, url=urls[k], write=True) for k in KINDS}
    with open_connector(profiles["postgresql"]) as pg:
        expected = pg.fingerprint(ITEMS)
        source_schema = pg.table_schema("items")
    hop = source_schema
    for src, dst, table in (("postgresql", "mysql", "hop_maria"), ("mysql", "sqlite", "hop_sqlite")):
        with open_connector(profiles[src]) as reader, open_connector(profiles[dst]) as writer:
            writer.ensure_table(hop, table=table)
            for batch in reader.extract(schema=hop, order_by=["id"], batch_rows=10):
                writer.load(schema=hop, batch=batch, key=["id"], table=table)
            assert writer.fingerprint(hop, table=table) == expected
            hop = writer.table_schema(table).model_copy(update={"table": table})
            assert hop.model_copy(update={"table": "items"}) == ITEMS
    assert expected.rows == 25


def test_unknown_table_is_named(seeded: SqlConnector) -> None:
    with pytest.raises(TableNotFoundError, match="'missing_table'") as info:
        seeded.table_schema("missing_table")
    assert info.value.fields == {"connection": seeded.profile.name, "table": "missing_table"}
    with pytest.raises(TableNotFoundError, match="ghost"):
        list(seeded.extract(schema=ITEMS.model_copy(update={"table": "ghost"}), order_by=["id"]))
