"""The transform engine's refusals, failures, idempotency and memory bound (issue 6).

Hostile plans are refused before a single chunk is fetched; a large input spills instead of
being held in memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pydantic import ValidationError
from temporalio.exceptions import ApplicationError

from tests.activities.transform_engine_support import (
    ORDER_ROWS,
    ORDERS,
    RUN,
    TENANT,
    put,
    run,
)
from workflows.transform_plan import (
    EngineLimits,
    TransformPlan,
    output_run_id,
)
from workflows.types import ColumnSchema, TableSchema

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
