"""The ``transform_buffered`` activity: a set-level plan over buffered inputs, into a new buffer.

Idempotent by construction: the output goes to the run id ``output_run_id(run_id, step)``,
which the activity purges before it writes, so a retry or a re-run replaces the earlier output
instead of adding to it. It does not resume mid-way: a set-level result depends on every input
row, and the half-built DuckDB database lives on the failed worker's disk, so a retried attempt
starts over (inputs stay in the buffer until the workflow purges them).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
from temporalio import activity
from temporalio.exceptions import CancelledError

from activities.arrowtypes import arrow_schema
from activities.buffer import BufferStore, BufferWriter
from activities.errors import activity_errors
from activities.fingerprints import fingerprint_batches, json_columns_of
from activities.sync_steps import check_tenant
from activities.transform_engine._check import check_plan
from activities.transform_engine._run import PlanRun
from workflows.transform_plan import (
    TRANSFORM_BUFFERED,
    TransformBufferedInput,
    TransformBufferedResult,
    output_run_id,
)
from workflows.types import BufferRef, Frozen, TableSchema


class TransformProgress(Frozen):
    """Heartbeat details: where the run is (informational; a retry starts over)."""

    phase: str = "load"
    chunks_read: int = 0
    rows_read: int = 0
    rows_written: int = 0


class _Beat:
    """Heartbeats from the activity thread and from the sampler thread, never concurrently."""

    def __init__(self) -> None:
        self.progress = TransformProgress()
        self._lock = threading.Lock()
        self._context = contextvars.copy_context()

    def update(self, **changes: object) -> None:
        """Record progress and heartbeat it; a cancel is honoured here, between chunks."""
        with self._lock:
            self.progress = self.progress.model_copy(update=changes)
            activity.heartbeat(self.progress)
        if activity.is_cancelled():
            raise CancelledError("transform cancelled")

    def keepalive(self) -> None:
        """Heartbeat from the sampler thread while one long statement runs."""
        with self._lock:
            self._context.run(activity.heartbeat, self.progress)


class TransformActivities:
    """Cloud-side transform activities; one instance per worker.

    Args:
        buffer: The cloud's buffer store (inputs are read from it, the output written to it).
        workdir: Where each run's private DuckDB directory is made (default: the system temp dir).
    """

    def __init__(self, *, buffer: BufferStore, workdir: Path | None = None) -> None:
        self.buffer = buffer
        self.workdir = workdir

    @activity.defn(name=TRANSFORM_BUFFERED, no_thread_cancel_exception=True)
    def transform_buffered(self, inp: TransformBufferedInput) -> TransformBufferedResult:
        """Check the plan against the inputs' schemas, run it with DuckDB, buffer the output."""
        with activity_errors():
            check_tenant(inp.tenant)
            # Before any chunk is read: every schema problem of the plan surfaces here.
            checked = check_plan(inp.plan, {name: inp.refs(name)[0].table_schema for name in inp.inputs})
            run_id = output_run_id(inp.run_id, inp.step)
            self.buffer.purge_run(tenant=inp.tenant, run_id=run_id)
            writer = self.buffer.open_writer(
                tenant=inp.tenant, run_id=run_id, table_schema=checked.output_schema
            )
            beat = _Beat()
            try:
                with PlanRun(checked, inp.limits, workdir=self.workdir, tick=beat.keepalive) as run:
                    for name in inp.plan.inputs:
                        for rows in run.load(name, self._chunks(inp.refs(name), inp.tenant)):
                            p = beat.progress
                            beat.update(chunks_read=p.chunks_read + 1, rows_read=p.rows_read + rows)
                    beat.update(phase="execute")
                    for _ in run.execute():
                        beat.update()
                    beat.update(phase="output")
                    fingerprint = fingerprint_batches(
                        self._written(run.output(), writer, beat, checked.output_schema),
                        json_columns=json_columns_of(checked.output_schema),
                    )
                    stats = run.stats
            except BaseException:
                # A half-written output must never be mistaken for a result; the retry rewrites it.
                self.buffer.purge_run(tenant=inp.tenant, run_id=run_id)
                raise
            ref = writer.finish()
            return TransformBufferedResult(buffer=ref, rows=ref.rows, fingerprint=fingerprint, stats=stats)

    def _chunks(self, refs: tuple[BufferRef, ...], tenant: str) -> Iterator[pa.Table]:
        # Lazily: a chunk is fetched and decrypted only when the engine is ready for it.
        for ref in refs:
            for chunk in ref.chunks:
                yield self.buffer.read_chunk(ref, chunk, tenant=tenant)

    @staticmethod
    def _written(
        batches: Iterator[pa.RecordBatch], writer: BufferWriter, beat: _Beat, schema: TableSchema
    ) -> Iterator[pa.RecordBatch]:
        wrote = False
        for batch in batches:
            writer.write(batch)
            wrote = True
            beat.update(rows_written=beat.progress.rows_written + batch.num_rows)
            yield batch
        if not wrote:
            # One empty chunk, as extract_to_buffer does, so a loader still creates the table.
            writer.write(arrow_schema(schema).empty_table())

    def all(self) -> list[Callable[..., Any]]:
        """Every activity of this class, for ``Worker(activities=...)``."""
        return [self.transform_buffered]
