"""Named query sources: typed from the database, read with keyset pages and resume, read-only."""

from __future__ import annotations

import pyarrow as pa
import pytest

from activities.errors import InvalidInputError, ReadOnlyViolationError
from activities.sql import SqlConnector
from tests.activities.sql.conftest import ITEMS

QUERY = """
SELECT i.id, i.name, i.price, i.updated_at, i.active, count(l.line_no) AS line_count
FROM items i LEFT JOIN order_lines l ON l.order_id = i.id
WHERE i.id > 3
GROUP BY i.id, i.name, i.price, i.updated_at, i.active
"""


@pytest.mark.parametrize("kind", ["postgresql", "mysql"], indirect=True)
def test_query_source_is_typed_and_paged_like_a_table(seeded: SqlConnector) -> None:
    schema = seeded.define_query("item_summary", QUERY + ";", key=["id"])
    types = {c.name: c.type for c in schema.columns}
    assert types["id"] == "int64" and types["price"] == "decimal(12,2)" and types["active"] == "bool"
    assert types["updated_at"] == "timestamp" and types["line_count"] == "int64"
    assert schema.primary_key == ("id",) and schema.table == "item_summary"
    batches = list(seeded.extract(schema=schema, order_by=["id"], batch_rows=5))
    assert [b.num_rows for b in batches] == [5, 5, 5, 5, 2]
    ids = pa.Table.from_batches(batches).column("id").to_pylist()
    assert ids == list(range(4, 26))
    # Resume after a position, and incremental reads, work exactly as on tables.
    after = seeded.position_of(batches[1], ["id"])
    rest = pa.Table.from_batches(list(seeded.extract(schema=schema, order_by=["id"], after=after)))
    assert rest.column("id").to_pylist() == list(range(14, 26))
    # The table of the same connection is still read as the table.
    assert len(pa.Table.from_batches(list(seeded.extract(schema=ITEMS, order_by=["id"])))) == 25


@pytest.mark.parametrize("kind", ["postgresql", "mysql"], indirect=True)
@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM items",
        "SELECT 1; DELETE FROM items",
        "WITH d AS (DELETE FROM items RETURNING *) SELECT * FROM d",
        "SELECT * FROM items FOR UPDATE",
        "SELECT nextval('s')",
    ],
)
def test_query_source_refuses_anything_but_one_pure_read(seeded: SqlConnector, sql: str) -> None:
    with pytest.raises(ReadOnlyViolationError):
        seeded.define_query("bad", sql, key=["id"])
    assert len(pa.Table.from_batches(list(seeded.extract(schema=ITEMS, order_by=["id"])))) == 25


@pytest.mark.parametrize("kind", ["postgresql"], indirect=True)
def test_query_source_needs_its_key_columns(seeded: SqlConnector) -> None:
    with pytest.raises(InvalidInputError, match="needs a key"):
        seeded.define_query("q", "SELECT id FROM items", key=[])
    with pytest.raises(InvalidInputError, match="does not return key column 'order_id'"):
        seeded.define_query("q", "SELECT id FROM items", key=["order_id"])


@pytest.mark.parametrize("kind", ["sqlite"], indirect=True)
def test_query_source_on_sqlite_is_refused_clearly(seeded: SqlConnector) -> None:
    with pytest.raises(InvalidInputError, match="not supported on SQLite"):
        seeded.define_query("q", "SELECT id FROM items", key=["id"])
