"""The set-level transform engine (issue 6): DuckDB over the real encrypted buffer.

Every expected result is computed here in plain Python from the same rows, and compared both
row for row and by fingerprint. Hostile plans are refused before a single chunk is fetched.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pydantic import ValidationError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.arrowtypes import arrow_schema
from activities.buffer import BufferStore, DirectoryBackend
from activities.crypto import LocalKeyring
from activities.fingerprints import fingerprint_batches
from activities.transform_engine import TransformActivities
from workflows.converter import DATA_CONVERTER
from workflows.queues import cloud_queue
from workflows.transform_plan import (
    EngineLimits,
    TransformBufferedInput,
    TransformBufferedResult,
    TransformPlan,
    output_run_id,
)
from workflows.types import BufferRef, ColumnSchema, TableSchema

TENANT = "acme"
RUN = "run-1"

CUSTOMERS = TableSchema(
    table="customers",
    columns=(
        ColumnSchema(name="id", type="int64", nullable=False),
        ColumnSchema(name="name", type="string"),
        ColumnSchema(name="region", type="string"),
    ),
    primary_key=("id",),
)
ORDERS = TableSchema(
    table="orders",
    columns=(
        ColumnSchema(name="id", type="int64", nullable=False),
        ColumnSchema(name="customer_id", type="int64"),
        ColumnSchema(name="amount", type="decimal(12,2)"),
        ColumnSchema(name="qty", type="int32"),
        ColumnSchema(name="status", type="string"),
        ColumnSchema(name="updated", type="int64"),
    ),
    primary_key=("id",),
)
CUSTOMER_ROWS = [
    {"id": 1, "name": "Ann", "region": "north"},
    {"id": 2, "name": "Bob", "region": "south"},
    {"id": 3, "name": "Cid", "region": None},
]
ORDER_ROWS = [
    {"id": 10, "customer_id": 1, "amount": Decimal("12.50"), "qty": 2, "status": "paid", "updated": 5},
    {"id": 11, "customer_id": 1, "amount": Decimal("7.25"), "qty": 1, "status": "open", "updated": 6},
    {"id": 12, "customer_id": 2, "amount": Decimal("100.00"), "qty": 10, "status": "paid", "updated": 7},
    {"id": 13, "customer_id": 4, "amount": Decimal("3.00"), "qty": 3, "status": "paid", "updated": 8},
    {"id": 14, "customer_id": None, "amount": Decimal("1.00"), "qty": 1, "status": "void", "updated": 9},
    {"id": 15, "customer_id": 3, "amount": None, "qty": None, "status": "paid", "updated": 10},
]


class CountingBackend(DirectoryBackend):
    """The real directory store, counting reads: proves a refused plan fetched nothing."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.gets = 0

    def get(self, key: str, *, length: int | None = None) -> bytes:
        self.gets += 1
        return super().get(key, length=length)


@pytest.fixture
def engine(tmp_path: Path) -> tuple[TransformActivities, BufferStore, CountingBackend]:
    backend = CountingBackend(tmp_path / "buffer")
    store = BufferStore(backend=backend, keyring=LocalKeyring(tmp_path / "keys", b"k" * 32))
    return TransformActivities(buffer=store, workdir=tmp_path), store, backend


def put(
    store: BufferStore, schema: TableSchema, chunks: Iterable[list[dict[str, Any]] | pa.Table]
) -> BufferRef:
    writer = store.open_writer(tenant=TENANT, run_id=RUN, table_schema=schema)
    for rows in chunks:
        writer.write(rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows, arrow_schema(schema)))
    return writer.finish()


def run(
    activities: TransformActivities, plan: dict[str, Any], inputs: dict[str, BufferRef], **extra: Any
) -> tuple[TransformBufferedResult, list[Any]]:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, task_queue=cloud_queue(TENANT), heartbeat_details=[])
    beats: list[Any] = []
    env.on_heartbeat = lambda *details: beats.append(details[0])
    inp = TransformBufferedInput(
        tenant=TENANT, run_id=RUN, step="t1", plan=TransformPlan.model_validate(plan), inputs=inputs, **extra
    )
    return env.run(activities.transform_buffered, inp), beats


def output_rows(store: BufferStore, result: TransformBufferedResult) -> list[dict[str, Any]]:
    return [row for batch in store.read(result.buffer, tenant=TENANT) for row in batch.to_pylist()]


def check(store: BufferStore, result: TransformBufferedResult, expected: list[dict[str, Any]]) -> None:
    """Rows equal (in any order) and the fingerprint is that of the expected rows."""

    def order(row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple((v is None, str(v)) for v in row.values())

    assert sorted(output_rows(store, result), key=order) == sorted(expected, key=order)
    table = pa.Table.from_pylist(expected, arrow_schema(result.buffer.table_schema))
    assert result.fingerprint == fingerprint_batches(table.to_batches())
    assert result.rows == len(expected)


@pytest.mark.parametrize("how", ["inner", "left"])
def test_join_matches_a_nested_loop_join(engine, how: str) -> None:
    activities, store, _ = engine
    inputs = {
        "orders": put(store, ORDERS, [ORDER_ROWS[:3], ORDER_ROWS[3:]]),
        "customers": put(store, CUSTOMERS, [CUSTOMER_ROWS]),
    }
    plan = {
        "inputs": ["orders", "customers"],
        "steps": [
            {
                "op": "join",
                "name": "enriched",
                "left": "orders",
                "right": "customers",
                "how": how,
                "on": [{"left": "customer_id", "right": "id"}],
                "right_columns": ["name", "region"],
            },
        ],
    }
    result, _ = run(activities, plan, inputs)

    expected = []
    for o in ORDER_ROWS:
        matches = [c for c in CUSTOMER_ROWS if o["customer_id"] is not None and c["id"] == o["customer_id"]]
        if not matches and how == "left":
            matches = [{"name": None, "region": None}]
        expected += [{**o, "name": c["name"], "region": c["region"]} for c in matches]
    check(store, result, expected)
    # customers.id is the right side's whole key: each order matches at most once, so id stays the key.
    assert result.buffer.table_schema.primary_key == ("id",)
    assert len(expected) == (4 if how == "inner" else 6)


def test_aggregate_matches_python_group_by(engine) -> None:
    activities, store, _ = engine
    inputs = {"orders": put(store, ORDERS, [ORDER_ROWS[:2], ORDER_ROWS[2:]])}
    plan = {
        "inputs": ["orders"],
        "steps": [
            {
                "op": "aggregate",
                "name": "by_status",
                "source": "orders",
                "group_by": ["status"],
                "aggregates": [
                    {"name": "n", "fn": "count"},
                    {"name": "priced", "fn": "count", "column": "amount"},
                    {"name": "revenue", "fn": "sum", "column": "amount"},
                    {"name": "units", "fn": "sum", "column": "qty"},
                    {"name": "first", "fn": "min", "column": "updated"},
                    {"name": "top_customer", "fn": "max", "column": "customer_id"},
                    {"name": "mean_qty", "fn": "avg", "column": "qty"},
                ],
            },
        ],
    }
    result, _ = run(activities, plan, inputs)

    def agg(values: list[Any], fn: Callable[[list[Any]], Any]) -> Any:
        present = [v for v in values if v is not None]
        return fn(present) if present else None

    expected = []
    for status in sorted({o["status"] for o in ORDER_ROWS}):
        group = [o for o in ORDER_ROWS if o["status"] == status]
        col = {name: [o[name] for o in group] for name in group[0]}
        expected.append(
            {
                "status": status,
                "n": len(group),
                "priced": len([v for v in col["amount"] if v is not None]),
                "revenue": agg(col["amount"], sum),
                "units": agg(col["qty"], sum),
                "first": agg(col["updated"], min),
                "top_customer": agg(col["customer_id"], max),
                "mean_qty": agg(col["qty"], lambda v: sum(v) / len(v)),
            }
        )
    check(store, result, expected)
    types = {c.name: c.type for c in result.buffer.table_schema.columns}
    assert (types["revenue"], types["units"], types["mean_qty"]) == ("decimal(38,2)", "int64", "float64")
    assert result.buffer.table_schema.primary_key == ("status",)


EVENTS = TableSchema(
    table="events",
    columns=(
        ColumnSchema(name="k", type="int64"),
        ColumnSchema(name="seq", type="int64"),
        ColumnSchema(name="val", type="string"),
    ),
)
EVENT_ROWS = [
    {"k": 1, "seq": 3, "val": "b"},
    {"k": 1, "seq": 3, "val": "a"},
    {"k": 1, "seq": 1, "val": "z"},
    {"k": 2, "seq": None, "val": "x"},
    {"k": 2, "seq": 0, "val": "y"},
    {"k": 3, "seq": None, "val": "q"},
    {"k": 4, "seq": 5, "val": None},
    {"k": 4, "seq": 5, "val": "c"},
]


@pytest.mark.parametrize("keep", ["greatest", "least"])
def test_dedupe_keeps_the_documented_row_per_key(engine, keep: str) -> None:
    activities, store, _ = engine
    inputs = {"events": put(store, EVENTS, [EVENT_ROWS[:4], EVENT_ROWS[4:]])}
    plan = {
        "inputs": ["events"],
        "steps": [
            {
                "op": "dedupe",
                "name": "latest",
                "source": "events",
                "key": ["k"],
                "order_by": "seq",
                "keep": keep,
            },
        ],
    }
    result, _ = run(activities, plan, inputs)

    def rank(row: dict[str, Any]) -> tuple[Any, ...]:
        # NULL never wins; ties go to the other columns ascending, NULLs last.
        seq = row["seq"]
        primary = (seq is None, -seq if keep == "greatest" and seq is not None else seq)
        return (primary, (row["val"] is None, row["val"] or ""))

    expected = [
        min((r for r in EVENT_ROWS if r["k"] == k), key=rank) for k in sorted({r["k"] for r in EVENT_ROWS})
    ]
    check(store, result, expected)
    assert [r["val"] for r in expected] == (
        ["a", "y", "q", "c"] if keep == "greatest" else ["z", "y", "q", "c"]
    )
    assert result.buffer.table_schema.primary_key == ("k",)


def test_filter_derive_select_chain(engine) -> None:
    activities, store, _ = engine
    inputs = {"orders": put(store, ORDERS, [ORDER_ROWS])}
    plan = {
        "inputs": ["orders"],
        "steps": [
            {
                "op": "filter",
                "name": "paid",
                "source": "orders",
                "where": "status = 'paid' AND amount IS NOT NULL",
            },
            {
                "op": "derive",
                "name": "priced",
                "source": "paid",
                "columns": [
                    {"name": "total", "expr": "amount * qty", "type": "decimal(12,2)"},
                    {"name": "size", "expr": "CASE WHEN total > 50 THEN 'big' ELSE 'small' END"},
                ],
            },
            {
                "op": "select",
                "name": "out",
                "source": "priced",
                "columns": ["id", "total", "size"],
                "rename": {"id": "order_id"},
            },
        ],
    }
    result, _ = run(activities, plan, inputs)

    expected = []
    for o in ORDER_ROWS:
        if o["status"] == "paid" and o["amount"] is not None:
            total = o["amount"] * o["qty"]
            expected.append({"order_id": o["id"], "total": total, "size": "big" if total > 50 else "small"})
    check(store, result, expected)
    assert result.buffer.table_schema.primary_key == ("order_id",)


HOSTILE_MODELS = [
    # identifier injection: refused by the model, so no SQL is ever built from it
    {
        "op": "aggregate",
        "name": "a",
        "source": "orders",
        "group_by": ['status"; DROP TABLE r0; --'],
        "aggregates": [{"name": "n", "fn": "count"}],
    },
    {"op": "dedupe", "name": "a", "source": "orders", "key": ["id"], "order_by": "updated) = 1 OR (1"},
    {"op": "filter", "name": "x; ATTACH '/tmp/x'", "source": "orders", "where": "id > 1"},
]


@pytest.mark.parametrize("step", HOSTILE_MODELS)
def test_injected_identifiers_are_refused_by_the_model(step: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="plain SQL identifier"):
        TransformPlan.model_validate({"inputs": ["orders"], "steps": [step]})


HOSTILE_PLANS = [
    (
        {
            "op": "aggregate",
            "name": "a",
            "source": "orders",
            "aggregates": [{"name": "s", "fn": "sum", "column": "nope"}],
        },
        "unknown column 'nope'",
    ),
    (
        {
            "op": "aggregate",
            "name": "a",
            "source": "orders",
            "aggregates": [{"name": "s", "fn": "sum", "column": "status"}],
        },
        "needs a numeric column",
    ),
    (
        {"op": "filter", "name": "f", "source": "orders", "where": "read_csv('/etc/passwd') IS NOT NULL"},
        "is not allowed",
    ),
    (
        {
            "op": "derive",
            "name": "d",
            "source": "orders",
            "columns": [{"name": "h", "expr": "getenv('HOME')"}],
        },
        "is not allowed",
    ),
    (
        {"op": "filter", "name": "f", "source": "orders", "where": "id IN (SELECT 1)"},
        "unsupported clause 'query'",
    ),
    (
        {
            "op": "join",
            "name": "j",
            "left": "orders",
            "right": "orders",
            "on": [{"left": "id", "right": "status"}],
        },
        "join key 'id' is int64 but 'status' is string",
    ),
]


@pytest.mark.parametrize(("step", "why"), HOSTILE_PLANS)
def test_bad_plans_fail_before_any_chunk_is_read(engine, step: dict[str, Any], why: str) -> None:
    activities, store, backend = engine
    inputs = {"orders": put(store, ORDERS, [ORDER_ROWS])}
    with pytest.raises(ApplicationError) as caught:
        run(activities, {"inputs": ["orders"], "steps": [step]}, inputs)
    assert caught.value.type == "TransformError" and caught.value.non_retryable
    assert why in caught.value.message
    assert backend.gets == 0
    assert list(backend.list(f"{TENANT}/{output_run_id(RUN, 't1')}/")) == []


def test_rerun_replaces_the_output_with_the_same_fingerprint(engine) -> None:
    activities, store, backend = engine
    inputs = {"orders": put(store, ORDERS, [ORDER_ROWS[:2], ORDER_ROWS[2:4], ORDER_ROWS[4:]])}
    plan = {
        "inputs": ["orders"],
        "steps": [
            {
                "op": "aggregate",
                "name": "n",
                "source": "orders",
                "group_by": ["customer_id"],
                "aggregates": [{"name": "n", "fn": "count"}],
            },
        ],
    }
    first, beats = run(activities, plan, inputs, limits=EngineLimits(output_batch_rows=2))
    second, _ = run(activities, plan, inputs, limits=EngineLimits(output_batch_rows=2))

    assert first.fingerprint == second.fingerprint and first.rows == 5  # customers 1, 2, 3, 4 and NULL
    assert first.buffer.run_id == second.buffer.run_id == output_run_id(RUN, "t1")
    stored = {info.key for info in backend.list(f"{TENANT}/{second.buffer.run_id}/")}
    assert stored == {c.key for c in second.buffer.chunks} and len(stored) == 3  # the first run's are gone
    # a heartbeat per input chunk and per output chunk (the keepalive thread may repeat one)
    assert list(dict.fromkeys(b.chunks_read for b in beats if b.phase == "load")) == [1, 2, 3]
    assert list(dict.fromkeys(b.rows_written for b in beats if b.phase == "output")) == [0, 2, 4, 5]


def test_large_input_spills_and_memory_stays_bounded(engine) -> None:
    """300k rows of ~1.2 kB in 30 chunks (~330 MB decoded) under a 64 MB DuckDB limit."""
    activities, store, _ = engine
    rows, chunk_rows = 300_000, 10_000
    schema = TableSchema(
        table="events",
        columns=(
            ColumnSchema(name="id", type="int64"),
            ColumnSchema(name="k", type="int64"),
            ColumnSchema(name="v", type="int64"),
            ColumnSchema(name="payload", type="string"),
        ),
        primary_key=("id",),
    )

    def chunks() -> Iterable[pa.Table]:
        for start in range(0, rows, chunk_rows):
            ids = pa.array(range(start, start + chunk_rows), pa.int64())
            payload = pc.binary_repeat(pc.utf8_lpad(pc.cast(ids, pa.string()), 8, "0"), 150)
            yield pa.table(
                {"id": ids, "k": pc.divide(ids, 3), "v": pc.bit_wise_and(ids, 7), "payload": payload}
            )

    inputs = {"events": put(store, schema, chunks())}
    plan = {
        "inputs": ["events"],
        "steps": [
            {"op": "dedupe", "name": "latest", "source": "events", "key": ["k"], "order_by": "v"},
        ],
    }
    limits = EngineLimits(memory_limit_mb=64, output_batch_rows=5_000)
    result, _ = run(activities, plan, inputs, limits=limits)

    # k = id // 3 and v = id & 7: the winner of each key is the id of its triple with the greatest v.
    winners = {max(range(3 * k, 3 * k + 3), key=lambda i: (i & 7, i)) for k in range(rows // 3)}
    ids = [
        row["id"]
        for batch in store.read(result.buffer, tenant=TENANT)
        for row in batch.select(["id"]).to_pylist()
    ]
    assert result.rows == len(ids) == len(winners) == rows // 3 and set(ids) == winners
    stats = result.stats
    assert stats.input_rows == rows and stats.input_bytes > 300 * 2**20
    assert stats.peak_spill_bytes > 0
    # Loading the input whole would take at least input_bytes; the run stays well under half of it.
    assert stats.peak_rss_bytes - stats.start_rss_bytes < stats.input_bytes // 2


def test_input_and_result_cross_the_workflow_boundary(engine) -> None:
    """What a workflow sends and gets back survives the platform's data converter unchanged."""
    activities, store, _ = engine
    inputs = {"orders": put(store, ORDERS, [ORDER_ROWS]), "customers": put(store, CUSTOMERS, [CUSTOMER_ROWS])}
    plan = TransformPlan.model_validate(
        {
            "inputs": ["orders", "customers"],
            "steps": [
                {"op": "filter", "name": "paid", "source": "orders", "where": "status = 'paid'"},
                {
                    "op": "join",
                    "name": "j",
                    "left": "paid",
                    "right": "customers",
                    "on": [{"left": "customer_id", "right": "id"}],
                    "right_columns": ["region"],
                },
                {
                    "op": "aggregate",
                    "name": "by_region",
                    "source": "j",
                    "group_by": ["region"],
                    "aggregates": [{"name": "revenue", "fn": "sum", "column": "amount"}],
                },
            ],
        }
    )
    inp = TransformBufferedInput(tenant=TENANT, run_id=RUN, step="t1", plan=plan, inputs=inputs)
    converter = DATA_CONVERTER.payload_converter
    assert converter.from_payloads(converter.to_payloads([inp]), [TransformBufferedInput]) == [inp]
    result, _ = run(activities, plan.model_dump(), inputs)
    assert converter.from_payloads(converter.to_payloads([result]), [TransformBufferedResult]) == [result]
    # paid orders 10, 12 (north, south) and 15 (region NULL, amount NULL); 13's customer is unknown
    check(
        store,
        result,
        [
            {"region": "north", "revenue": Decimal("12.50")},
            {"region": "south", "revenue": Decimal("100.00")},
            {"region": None, "revenue": None},
        ],
    )


def test_a_value_the_expression_cannot_compute_fails_naming_the_step(engine) -> None:
    activities, store, _ = engine
    inputs = {"orders": put(store, ORDERS, [ORDER_ROWS])}
    plan = {
        "inputs": ["orders"],
        "steps": [
            {
                "op": "derive",
                "name": "d",
                "source": "orders",
                "columns": [{"name": "n", "expr": "CAST(status AS INT)"}],
            },
        ],
    }
    with pytest.raises(ApplicationError) as caught:
        run(activities, plan, inputs)
    assert caught.value.type == "TransformError" and caught.value.message.startswith("step 'd': ")
    assert engine[2].gets > 0  # it failed on a value ('paid'), after reading, not at the plan check
    assert list(engine[2].list(f"{TENANT}/{output_run_id(RUN, 't1')}/")) == []  # nothing half-written


def test_every_logical_type_passes_set_and_row_steps_unchanged(engine) -> None:
    """Through DuckDB (dedupe) and Python (select): values and logical types come back as they went in."""
    activities, store, _ = engine
    types = [
        "bool",
        "int16",
        "int32",
        "int64",
        "float32",
        "float64",
        "string",
        "binary",
        "date",
        "time",
        "timestamp",
        "timestamptz",
        "json",
        "decimal(38,10)",
    ]
    schema = TableSchema(
        table="all_types",
        columns=(
            ColumnSchema(name="id", type="int64"),
            *(ColumnSchema(name=f"c{i}", type=t) for i, t in enumerate(types)),
        ),
        primary_key=("id",),
    )
    values = [
        True,
        -7,
        70000,
        2**40,
        1.5,
        -2.25,
        "ünï",
        b"\x00\x01bin",
        date(2024, 2, 29),
        time(23, 59, 58, 123456),
        datetime(2024, 1, 2, 3, 4, 5, 678901),
        datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        '{"a": [1, 2]}',
        Decimal("1234567890123456789012345678.0123456789"),
    ]
    rows = [
        {"id": 1, **{f"c{i}": v for i, v in enumerate(values)}},
        {"id": 2, **{f"c{i}": None for i in range(len(types))}},
    ]
    inputs = {"t": put(store, schema, [rows])}
    plan = {
        "inputs": ["t"],
        "steps": [
            {"op": "dedupe", "name": "d", "source": "t", "key": ["id"], "order_by": "c3"},
            {"op": "select", "name": "s", "source": "d", "columns": [c.name for c in schema.columns]},
        ],
    }
    result, _ = run(activities, plan, inputs)
    assert [c.type for c in result.buffer.table_schema.columns] == [c.type for c in schema.columns]
    check(store, result, rows)
