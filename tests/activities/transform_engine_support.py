"""Shared pieces of the transform engine tests: the real encrypted buffer, sample tables, checks."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
from temporalio.testing import ActivityEnvironment

from activities.arrowtypes import arrow_schema
from activities.buffer import BufferStore, DirectoryBackend
from activities.crypto import LocalKeyring
from activities.fingerprints import fingerprint_batches
from activities.transform_engine import TransformActivities
from workflows.queues import cloud_queue
from workflows.transform_plan import (
    TransformBufferedInput,
    TransformBufferedResult,
    TransformPlan,
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


def make_engine(tmp_path: Path) -> tuple[TransformActivities, BufferStore, CountingBackend]:
    """The activities over a fresh buffer (directory store, local keyring) under ``tmp_path``."""
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
