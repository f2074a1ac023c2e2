from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from workflows.types import ColumnSchema, TableSchema

SCHEMA = TableSchema(
    table="orders",
    columns=(ColumnSchema(name="id", type="int64", nullable=False), ColumnSchema(name="note", type="string")),
    primary_key=("id",),
)


class FakeClock:
    """Frozen time that tests advance explicitly."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class AuditLog:
    """Records audit-hook calls."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, str]]] = []

    def __call__(self, event: str, fields: Mapping[str, str]) -> None:
        self.events.append((event, dict(fields)))


def batch(start: int, rows: int) -> pa.RecordBatch:
    ids = list(range(start, start + rows))
    return pa.RecordBatch.from_pydict(
        {"id": pa.array(ids, pa.int64()), "note": pa.array([f"row-{i}" for i in ids], pa.string())}
    )
