"""Table-moving activities: the streaming copy (3.1.1), extract-to-buffer and load-from-buffer (3.3.x).

Every step is resumable and idempotent: progress is heartbeated after each committed batch
(or chunk) and a retried attempt continues from the last heartbeat; loads are upserts, so a
batch applied twice (a crash after commit, before the heartbeat) changes nothing.

A cancelled step (a pause, a workflow cancel, a worker shutdown) stops at its next batch
boundary and returns the progress it made as its result: the cancel is never raised in the
middle of a write (``no_thread_cancel_exception``), so what it reports is what it committed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pyarrow as pa
from temporalio import activity

from activities.buffer import BufferStore
from activities.connections import ProfileSource
from activities.errors import InvalidInputError, activity_errors
from activities.fingerprints import fingerprint_batches, json_columns_of
from activities.prefetch import prefetch
from activities.sql import PostgresConnector, SqlConnector, open_connector
from activities.sql.pg_passthrough import binary_pages, can_pass_through
from activities.transform import compile_transform
from workflows import contracts as c
from workflows.queues import parse_queue
from workflows.types import TableSchema

log = logging.getLogger(__name__)

HEARTBEAT_THROTTLE = timedelta(seconds=2)
"""Longest gap between heartbeats sent to Temporal (``Worker(max_heartbeat_throttle_interval=)``).

A step learns of a cancel only from a heartbeat's answer, so this bounds how long a pause or an
emergency stop takes to reach it (plus at most one batch).
"""


def resumed_progress() -> c.StepProgress | None:
    """Progress heartbeated by an earlier attempt of this activity, if any."""
    details = activity.info().heartbeat_details
    if not details:
        return None
    return c.StepProgress.model_validate(details[0])


def check_tenant(tenant: str) -> None:
    """Refuse work addressed to another tenant than the queue this worker serves."""
    own = parse_queue(activity.info().task_queue).tenant
    if tenant != own:
        raise InvalidInputError(
            f"activity for tenant {tenant!r} arrived on a queue of tenant {own!r}", tenant=tenant
        )


def source_schema(conn: SqlConnector, *, table: str, query: str | None, key: tuple[str, ...]) -> TableSchema:
    """The schema to read: a registered query source, or the table with an optional key override."""
    if query is not None:
        return conn.define_query(table, query, key=key)
    schema = conn.table_schema(table)
    if not key:
        return schema
    missing = [k for k in key if schema.column(k) is None]
    if missing:
        raise InvalidInputError(f"table {table!r} has no key column(s) {missing}", table=table)
    return schema.model_copy(update={"primary_key": key})


def order_columns(schema: TableSchema, read: c.TableRead) -> list[str]:
    """Keyset ordering: (cursor column, *key) for incremental reads, the key otherwise."""
    if not schema.primary_key:
        raise InvalidInputError(
            f"table {schema.table!r} has no primary key; the platform needs one for resumable, "
            "idempotent syncs",
            table=schema.table,
        )
    key = list(schema.primary_key)
    if read.incremental_column:
        if schema.column(read.incremental_column) is None:
            raise InvalidInputError(
                f"incremental column {read.incremental_column!r} is not a column of {schema.table!r}",
                table=schema.table,
                column=read.incremental_column,
            )
        return [read.incremental_column, *key]
    return key


@dataclass
class BatchStream:
    """Reads one table slice in keyset order and keeps the progress counters up to date."""

    source: SqlConnector
    schema: TableSchema
    read: c.TableRead
    limits: c.BatchLimits
    progress: c.StepProgress

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        order_by = order_columns(self.schema, self.read)
        started = time.monotonic()
        rows_this_attempt = 0
        # The next batch is read while the caller writes this one (see activities/prefetch.py).
        batches = prefetch(
            self.source.extract(
                schema=self.schema,
                order_by=order_by,
                after=self.progress.after,
                since=self.read.since,
                since_column=self.read.incremental_column,
                batch_rows=self.limits.batch_rows,
            )
        )
        try:
            for batch in batches:
                if batch.num_rows == 0:
                    continue
                position = self.source.position_of(batch, order_by)
                rows_this_attempt += batch.num_rows
                # Progress includes the batch before the consumer sees it: the consumer heartbeats
                # it only after the batch is committed, so a heartbeat never runs ahead of the data.
                self.progress = self.progress.model_copy(
                    update={
                        "rows_read": self.progress.rows_read + batch.num_rows,
                        "batches": self.progress.batches + 1,
                        "after": tuple(position),
                        "max_cursor": position[0] if self.read.incremental_column else None,
                    }
                )
                yield batch
                if (
                    rows_this_attempt >= self.limits.max_rows
                    or time.monotonic() - started > self.limits.max_seconds
                ):
                    return
            self.progress = self.progress.model_copy(update={"done": True})
        finally:
            batches.close()


def copy_binary_pages(
    src: SqlConnector,
    dst: SqlConnector,
    *,
    schema: TableSchema,
    inp: c.CopyTableInput,
    progress: c.StepProgress,
) -> c.StepProgress:
    """The PostgreSQL -> PostgreSQL fast path of ``copy_table``: binary COPY pages, same progress contract."""
    assert isinstance(src, PostgresConnector) and isinstance(dst, PostgresConnector)
    order_by = order_columns(schema, inp.read)
    started = time.monotonic()
    moved = 0
    pages = binary_pages(
        src,
        dst,
        schema=schema,
        table=inp.destination_table,
        order_by=order_by,
        after=progress.after,
        since=inp.read.since,
        since_column=inp.read.incremental_column,
        batch_rows=inp.limits.batch_rows,
    )
    for page in pages:
        moved += page.rows
        progress = progress.model_copy(
            update={
                "rows_read": progress.rows_read + page.rows,
                "rows_written": progress.rows_written + page.written,
                "batches": progress.batches + 1,
                "after": tuple(page.position),
                "max_cursor": page.position[0] if inp.read.incremental_column else None,
            }
        )
        # The page is committed: a retry resumes after it.
        activity.heartbeat(progress)
        if (
            activity.is_cancelled()
            or moved >= inp.limits.max_rows
            or time.monotonic() - started > inp.limits.max_seconds
        ):
            return progress
    return progress.model_copy(update={"done": True})


class SyncSteps:
    """Activities that move table data; one instance per worker, holding its resources."""

    def __init__(self, *, connections: Callable[[], ProfileSource], buffer: BufferStore | None) -> None:
        self.connections = connections
        self.buffer = buffer
        self._privileges_checked: set[str] = set()

    def _open(self, name: str) -> SqlConnector:
        # The registry is looked up per call so credentials added while the worker runs are seen.
        return open_connector(self.connections().get(name))

    def _open_source(self, name: str) -> SqlConnector:
        """Open a connection to read from, checking once per worker that a read-only one really is."""
        conn = self._open(name)
        if not conn.profile.write and name not in self._privileges_checked:
            with conn:
                report = conn.privileges()
            self._privileges_checked.add(name)
            if report.can_write:
                # Layer 3 of the read-only defence: the statement gate and the read-only
                # transaction still hold, but the operator should narrow the grant.
                log.warning(
                    "connection %r is configured read-only but user %r can write: %s",
                    name,
                    report.user,
                    "; ".join(report.reasons),
                )
            conn = self._open(name)
        return conn

    @activity.defn(name=c.COPY_TABLE, no_thread_cancel_exception=True)
    def copy_table(self, inp: c.CopyTableInput) -> c.StepProgress:
        """Stream one slice of a table from source to destination inside this process."""
        with activity_errors():
            check_tenant(inp.tenant)
            progress = resumed_progress() or c.StepProgress(after=inp.read.after)
            with self._open_source(inp.read.connection) as src, self._open(inp.destination_connection) as dst:
                schema = source_schema(src, table=inp.read.table, query=inp.read.query, key=inp.read.key)
                transform = compile_transform(inp.transform, schema) if inp.transform else None
                out_schema = transform.output_schema if transform else schema
                dst.ensure_table(out_schema, table=inp.destination_table)
                if transform is None and can_pass_through(
                    src, dst, schema=schema, table=inp.destination_table
                ):
                    return copy_binary_pages(src, dst, schema=schema, inp=inp, progress=progress)
                stream = BatchStream(
                    source=src, schema=schema, read=inp.read, limits=inp.limits, progress=progress
                )
                written = progress.rows_written
                for batch in stream:
                    out = transform.apply(batch) if transform else batch
                    written += dst.load(
                        schema=out_schema, batch=out, key=out_schema.primary_key, table=inp.destination_table
                    )
                    # Heartbeat only after the batch is committed: a retry resumes after it.
                    activity.heartbeat(stream.progress.model_copy(update={"rows_written": written}))
                    if activity.is_cancelled():
                        break
                return stream.progress.model_copy(update={"rows_written": written})

    @activity.defn(name=c.EXTRACT_TO_BUFFER, no_thread_cancel_exception=True)
    def extract_to_buffer(self, inp: c.ExtractToBufferInput) -> c.ExtractToBufferResult:
        """Extract one slice of a table into encrypted buffer chunks, one chunk per (transformed) batch."""
        with activity_errors():
            check_tenant(inp.tenant)
            buffer = self._require_buffer()
            details = activity.info().heartbeat_details
            resumed = c.ExtractToBufferResult.model_validate(details[0]) if details else None
            progress = resumed.progress if resumed else c.StepProgress(after=inp.read.after)
            with self._open_source(inp.read.connection) as src:
                schema = source_schema(src, table=inp.read.table, query=inp.read.query, key=inp.read.key)
                transform = compile_transform(inp.transform, schema) if inp.transform else None
                writer = buffer.open_writer(
                    tenant=inp.tenant,
                    run_id=inp.run_id,
                    table_schema=transform.output_schema if transform else schema,
                    start_seq=inp.start_seq,
                    resume=resumed.buffer if resumed else None,
                )
                stream = BatchStream(
                    source=src, schema=schema, read=inp.read, limits=inp.limits, progress=progress
                )
                for batch in stream:
                    # One chunk per source batch even when a filter empties it, so the loader
                    # still creates the destination table of a fully filtered slice.
                    writer.write(transform.apply(batch) if transform else batch)
                    # Chunks written after the last heartbeat are orphans on a crash; purge_run removes them.
                    activity.heartbeat(
                        c.ExtractToBufferResult(buffer=writer.finish(), progress=stream.progress)
                    )
                    if activity.is_cancelled():
                        break
                return c.ExtractToBufferResult(buffer=writer.finish(), progress=stream.progress)

    @activity.defn(name=c.LOAD_FROM_BUFFER, no_thread_cancel_exception=True)
    def load_from_buffer(self, inp: c.LoadFromBufferInput) -> c.LoadFromBufferResult:
        """Decrypt buffered chunks, apply the transform and upsert them, one chunk per transaction."""
        with activity_errors():
            check_tenant(inp.tenant)
            buffer = self._require_buffer()
            details = activity.info().heartbeat_details
            done = c.StepProgress.model_validate(details[0]) if details else c.StepProgress()
            schema = inp.buffer.table_schema
            transform = compile_transform(inp.transform, schema) if inp.transform else None
            out_schema = transform.output_schema if transform else schema
            with self._open(inp.destination_connection) as dst:
                dst.ensure_table(out_schema, table=inp.destination_table)
                rows_read, written = done.rows_read, done.rows_written
                for chunk in inp.buffer.chunks[done.batches :]:
                    table = buffer.read_chunk(inp.buffer, chunk, tenant=inp.tenant)
                    for batch in table.to_batches():
                        out = transform.apply(batch) if transform else batch
                        written += dst.load(
                            schema=out_schema,
                            batch=out,
                            key=out_schema.primary_key,
                            table=inp.destination_table,
                        )
                    rows_read += table.num_rows
                    done = done.model_copy(
                        update={"batches": done.batches + 1, "rows_read": rows_read, "rows_written": written}
                    )
                    activity.heartbeat(done)
                    if activity.is_cancelled():
                        break
            return c.LoadFromBufferResult(
                rows_read=rows_read,
                rows_written=written,
                table_schema=out_schema,
                complete=done.batches >= len(inp.buffer.chunks),
            )

    @activity.defn(name=c.PURGE_BUFFER)
    def purge_buffer(self, inp: c.PurgeBufferInput) -> int:
        """Delete a run's chunks once loaded; the TTL sweeper catches anything this misses."""
        with activity_errors():
            check_tenant(inp.tenant)
            return self._require_buffer().purge_run(tenant=inp.tenant, run_id=inp.run_id)

    @activity.defn(name=c.FINGERPRINT_TABLE)
    def fingerprint_table(self, inp: c.FingerprintInput) -> c.FingerprintResult:
        """Row count and order-independent hash of a table, as the transform would write it."""
        with activity_errors():
            check_tenant(inp.tenant)
            with self._open(inp.connection) as conn:
                schema = source_schema(conn, table=inp.table, query=inp.query, key=inp.key)
                transform = compile_transform(inp.transform, schema) if inp.transform else None
                order_by = list(schema.primary_key) or [col.name for col in schema.columns]
                batches: Iterator[pa.RecordBatch] = prefetch(conn.extract(schema=schema, order_by=order_by))
                out_schema = schema
                if transform:
                    batches = (transform.apply(b) for b in batches)
                    out_schema = transform.output_schema
                fingerprint = fingerprint_batches(
                    batches, json_columns=json_columns_of(out_schema), heartbeat=activity.heartbeat
                )
                return c.FingerprintResult(fingerprint=fingerprint)

    def _require_buffer(self) -> BufferStore:
        if self.buffer is None:
            raise InvalidInputError("this worker has no buffer configured")
        return self.buffer

    def all(self) -> list[Any]:
        """Every activity of this class, for ``Worker(activities=...)``."""
        return [
            self.copy_table,
            self.extract_to_buffer,
            self.load_from_buffer,
            self.purge_buffer,
            self.fingerprint_table,
        ]
