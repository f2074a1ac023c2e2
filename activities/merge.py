"""The fan-in merge (3.4.2): buffered extracts of several sources, one row per key, back into the buffer.

It runs on the cloud worker, which owns the buffer, in two streaming passes over the chunks so
rows are never all in memory at once:

1. an index of every row's key, version and source (plus its running number) is built chunk by
   chunk; sorting it by version (greatest first, NULL last), then source priority, picks each
   key's winner;
2. every chunk is read again and only its winning rows are sealed into the run's buffer, one
   output chunk per input chunk, and fingerprinted on the way.

The rule is deterministic, so a retried attempt (the activity starts over) keeps the same rows;
its orphaned chunks go with the run's purge.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from temporalio import activity

from activities.buffer import BufferStore
from activities.errors import InvalidInputError, SchemaMismatchError, activity_errors
from activities.fingerprints import fingerprint_batches, json_columns_of
from activities.sync_steps import check_tenant
from workflows import contracts as c
from workflows.types import BufferRef, ChunkRef, TableSchema

_SRC, _ROW, _ORD = "__vsc_source", "__vsc_row", "__vsc_order"


def merged_schema(inp: c.MergeBuffersInput) -> TableSchema:
    """The first source's schema with the merge key as its primary key; every source must match it.

    Raises:
        InvalidInputError: No source produced a chunk, or a key / version column is missing.
        SchemaMismatchError: A source's columns (names or logical types) differ from the first's.
    """
    refs = [ref for source in inp.sources for ref in source]
    if not refs:
        raise InvalidInputError("fan-in: no source produced any rows to merge")
    first = refs[0].table_schema
    for ref in refs[1:]:
        if ref.table_schema.columns != first.columns:
            raise SchemaMismatchError(
                f"fan-in: source table {ref.table_schema.table!r} has columns "
                f"{[(col.name, col.type) for col in ref.table_schema.columns]}, the first source "
                f"{[(col.name, col.type) for col in first.columns]}",
                table=ref.table_schema.table,
            )
    wanted = (*inp.key, *((inp.version_column,) if inp.version_column else ()))
    missing = [name for name in wanted if first.column(name) is None]
    if missing:
        raise InvalidInputError(
            f"fan-in: column(s) {missing} are not in table {first.table!r}", table=first.table
        )
    return first.model_copy(update={"primary_key": inp.key})


class BufferMerge:
    """The merge activity; one instance per cloud worker, holding its buffer store."""

    def __init__(self, *, buffer: BufferStore) -> None:
        self.buffer = buffer

    def _chunks(self, inp: c.MergeBuffersInput) -> Iterator[tuple[int, int, pa.Table]]:
        """(source index, running row number of the chunk's first row, chunk rows), in input order."""
        row = 0
        for i, refs in enumerate(inp.sources):
            for ref in refs:
                chunk: ChunkRef
                for chunk in ref.chunks:
                    table = self.buffer.read_chunk(ref, chunk, tenant=inp.tenant)
                    yield i, row, table
                    row += table.num_rows

    def _winners(self, inp: c.MergeBuffersInput) -> pa.Array:
        """Running numbers of the rows that win their key (pass 1)."""
        cols = [*inp.key, *((inp.version_column,) if inp.version_column else ())]
        parts: list[pa.Table] = []
        for i, first_row, table in self._chunks(inp):
            part = table.select(cols)
            part = part.append_column(_SRC, pa.array([i] * table.num_rows, pa.int32()))
            part = part.append_column(
                _ROW, pa.array(range(first_row, first_row + table.num_rows), pa.int64())
            )
            parts.append(part.cast(parts[0].schema) if parts else part)
            activity.heartbeat(first_row + table.num_rows)
        index = pa.concat_tables(parts)
        order = [(_SRC, "ascending"), (_ROW, "ascending")]
        if inp.version_column:
            # NULLs sort last whatever the order (Arrow's default), so a NULL version loses.
            order.insert(0, (inp.version_column, "descending"))
        ranked = index.sort_by(order)
        ranked = ranked.append_column(_ORD, pa.array(range(ranked.num_rows), pa.int64()))
        best = ranked.group_by(list(inp.key), use_threads=False).aggregate([(_ORD, "min")])
        return pc.take(ranked[_ROW], best[f"{_ORD}_min"]).combine_chunks()

    @activity.defn(name=c.MERGE_BUFFERS)
    def merge_buffers(self, inp: c.MergeBuffersInput) -> c.MergeBuffersResult:
        """Keep one row per key over every source's buffered rows and seal them into the run's buffer."""
        with activity_errors():
            check_tenant(inp.tenant)
            schema = merged_schema(inp)
            names = [col.name for col in schema.columns]
            winners = self._winners(inp)
            writer = self.buffer.open_writer(
                tenant=inp.tenant, run_id=inp.run_id, table_schema=schema, start_seq=inp.start_seq
            )
            kept = [0] * len(inp.sources)

            def survivors() -> Iterator[pa.RecordBatch]:
                for i, first_row, table in self._chunks(inp):
                    rows = pa.array(range(first_row, first_row + table.num_rows), pa.int64())
                    out = table.select(names).filter(pc.is_in(rows, value_set=winners))
                    writer.write(out)
                    kept[i] += out.num_rows
                    yield from out.to_batches()

            fp = fingerprint_batches(
                survivors(), json_columns=json_columns_of(schema), heartbeat=activity.heartbeat
            )
            buffer: BufferRef = writer.finish()
            return c.MergeBuffersResult(buffer=buffer, kept=tuple(kept), fingerprint=fp)

    def all(self) -> list[Any]:
        """Every activity of this class, for ``Worker(activities=...)``."""
        return [self.merge_buffers]
