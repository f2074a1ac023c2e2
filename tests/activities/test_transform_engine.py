"""The set-level transform engine (issue 6): results of every operation, DuckDB over the real buffer.

Every expected result is computed here in plain Python from the same rows, and compared both
row for row and by fingerprint.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import pytest

from activities.transform_engine import check_plan
from tests.activities.transform_engine_support import (
    CUSTOMER_ROWS,
    CUSTOMERS,
    ORDER_ROWS,
    ORDERS,
    RUN,
    TENANT,
    check,
    put,
    run,
)
from workflows.converter import DATA_CONVERTER
from workflows.transform_plan import (
    TransformBufferedInput,
    TransformBufferedResult,
    TransformPlan,
)
from workflows.types import ColumnSchema, TableSchema


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


@pytest.mark.parametrize(
    ("step", "key"),
    [
        ({"op": "select", "columns": ["id", "qty"], "rename": {"id": "order_id"}}, ("order_id",)),
        ({"op": "select", "columns": ["qty", "customer_id"], "rename": {"customer_id": "id"}}, ()),
        ({"op": "derive", "columns": [{"name": "id", "expr": "customer_id"}]}, ()),
        ({"op": "filter", "where": "qty > 1"}, ("id",)),
    ],
)
def test_row_steps_carry_the_key_only_when_it_is_intact(step: dict[str, Any], key: tuple[str, ...]) -> None:
    plan = TransformPlan.model_validate(
        {"inputs": ["orders"], "steps": [{**step, "name": "s", "source": "orders"}]}
    )
    assert check_plan(plan, {"orders": ORDERS}).output_schema.primary_key == key
