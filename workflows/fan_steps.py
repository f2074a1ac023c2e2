"""Steps the fan-out (3.4.1) and fan-in (3.4.2) workflows share: buffered extracts, loads, fingerprints.

Both patterns extract whole tables into the run's encrypted buffer before anything is loaded,
so these helpers loop an extract activity until the source is exhausted and hand back only
claim checks. Parallel extracts of one run take disjoint chunk sequence ranges
(:data:`SEQ_STRIDE` apart), so every chunk of the run has its own number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from workflows import contracts as c
from workflows.sync_loop import RETRY, audit, step_options
from workflows.transform import TransformSpec
from workflows.types import BufferRef, Fingerprint

SEQ_STRIDE = 1_000_000
"""Chunk numbers reserved per extract of a run: far more than one table's chunks ever need."""


@dataclass(frozen=True)
class Extracted:
    """The refs of one source's extract steps (one per activity call) and the rows they hold."""

    refs: tuple[BufferRef, ...]
    rows: int

    @property
    def chunks(self) -> int:
        """Chunks over all refs."""
        return sum(len(r.chunks) for r in self.refs)


async def extract_all(
    *,
    tenant: str,
    read: c.TableRead,
    queue: str,
    limits: c.BatchLimits,
    start_seq: int,
    transform: TransformSpec | None = None,
) -> Extracted:
    """Extract the whole table into the buffer, one activity call per batch budget.

    Each call seals under its own creation time (bound into its chunks), so the refs are kept
    apart rather than concatenated.
    """
    run_id = workflow.info().run_id
    refs: list[BufferRef] = []
    after, seq, rows = read.after, start_seq, 0
    while True:
        res = await workflow.execute_activity(
            c.EXTRACT_TO_BUFFER,
            c.ExtractToBufferInput(
                tenant=tenant,
                run_id=run_id,
                read=read.model_copy(update={"after": after}),
                start_seq=seq,
                limits=limits,
                transform=transform,
            ),
            result_type=c.ExtractToBufferResult,
            task_queue=queue,
            **step_options(limits),
        )
        if res.buffer.chunks:
            refs.append(res.buffer)
        seq += len(res.buffer.chunks)
        rows += res.progress.rows_read
        after = res.progress.after
        if res.progress.done:
            break
    await audit(
        tenant=tenant,
        activity=c.EXTRACT_TO_BUFFER,
        action="extract",
        target=f"{read.connection}.{read.table}",
        rows=rows,
    )
    return Extracted(refs=tuple(refs), rows=rows)


async def load_all(
    *,
    tenant: str,
    refs: tuple[BufferRef, ...],
    connection: str,
    table: str,
    queue: str,
    limits: c.BatchLimits,
    **options: Any,
) -> tuple[int, int]:
    """Load every ref into ``connection.table`` in order; returns (rows read, rows written).

    ``options`` override the timeouts and retry policy of :func:`step_options`.
    """
    read = written = 0
    for ref in refs:
        res = await workflow.execute_activity(
            c.LOAD_FROM_BUFFER,
            c.LoadFromBufferInput(
                tenant=tenant, buffer=ref, destination_connection=connection, destination_table=table
            ),
            result_type=c.LoadFromBufferResult,
            task_queue=queue,
            **{**step_options(limits), **options},
        )
        read += res.rows_read
        written += res.rows_written
    await audit(
        tenant=tenant, activity=c.LOAD_FROM_BUFFER, action="load", target=f"{connection}.{table}", rows=read
    )
    return read, written


async def fingerprint(
    *,
    tenant: str,
    connection: str,
    table: str,
    queue: str,
    limits: c.BatchLimits,
    query: str | None = None,
    key: tuple[str, ...] = (),
    transform: TransformSpec | None = None,
    **options: Any,
) -> Fingerprint:
    """Count and content hash of a table (as ``transform`` would write it), on the side that reaches it."""
    res = await workflow.execute_activity(
        c.FINGERPRINT_TABLE,
        c.FingerprintInput(
            tenant=tenant, connection=connection, table=table, query=query, key=key, transform=transform
        ),
        result_type=c.FingerprintResult,
        task_queue=queue,
        **{**step_options(limits), **options},
    )
    return res.fingerprint


async def purge(*, tenant: str, queue: str) -> None:
    """Delete every chunk of this run (the cloud side owns the buffer)."""
    await workflow.execute_activity(
        c.PURGE_BUFFER,
        c.PurgeBufferInput(tenant=tenant, run_id=workflow.info().run_id),
        task_queue=queue,
        start_to_close_timeout=timedelta(minutes=5),
        retry_policy=RETRY,
    )


def failure(err: ActivityError) -> tuple[str, bool]:
    """The message of an activity's failure and whether retrying it cannot help (non-retryable)."""
    cause = err.cause
    if isinstance(cause, ApplicationError):
        return f"{cause.type}: {cause.message}", cause.non_retryable
    return str(cause or err), False
