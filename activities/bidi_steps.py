"""Activities of the bidirectional sync (3.4.3): collect each side's changes, reconcile, apply, mark.

Echo suppression is a shadow table in each side's own database (``_vsc_bidi_<pipeline>_<side>``:
primary key as canonical JSON -> hash of the row both sides last agreed on). A row read at or
after the side's cursor is a change only when its hash differs from the shadow, so a row the
sync itself wrote (same content on both sides, same hash) is never seen as a new change. The
apply writes the data; the mark, run only once both sides applied, writes the shadow. Both are
upserts, so re-running either writes nothing twice.

Rows only travel as encrypted buffer chunks; the workflow sees claim checks and counts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
from temporalio import activity

from activities import bidi_triggers as triggers
from activities.arrowtypes import arrow_schema
from activities.bidi_policy import Change, decide, version_text
from activities.buffer import BufferStore
from activities.connections import ProfileSource
from activities.errors import (
    InvalidInputError,
    SchemaMismatchError,
    TableNotFoundError,
    WriteNotGrantedError,
    activity_errors,
)
from activities.fingerprints import json_columns_of, row_texts
from activities.sql import SqlConnector, open_connector
from activities.sql.values import to_json_value
from activities.sync_steps import check_tenant
from workflows import bidi_types as b
from workflows.types import BufferRef, ColumnSchema, TableSchema


def shadow_schema(table: str) -> TableSchema:
    """The shadow table: one row per key the two sides last agreed on."""
    return TableSchema(
        table=table,
        columns=(
            ColumnSchema(name="row_key", type="string", nullable=False),
            ColumnSchema(name="row_hash", type="string", nullable=False),
        ),
        primary_key=("row_key",),
    )


def row_keys(batch: pa.RecordBatch | pa.Table, schema: TableSchema) -> list[str]:
    """Each row's primary key as canonical JSON, the same whichever database the row came from."""
    columns = []
    for name in schema.primary_key:
        column = schema.column(name)
        assert column is not None
        columns.append([to_json_value(column.type, v) for v in batch.column(name).to_pylist()])
    return [json.dumps(list(values), separators=(",", ":")) for values in zip(*columns, strict=True)]


def row_hashes(batch: pa.RecordBatch, schema: TableSchema) -> list[str]:
    """Each row's content hash over the canonical text of every column (as in fingerprints)."""
    texts = row_texts(batch, json_columns=json_columns_of(schema))
    return [hashlib.sha256(t.encode()).hexdigest()[:32] for t in texts]


def require_write(conn: SqlConnector, table: str) -> None:
    """Both tables of a bidirectional sync are written, so both connections need the write grant."""
    if not conn.profile.write:
        raise WriteNotGrantedError(
            f"connection {conn.profile.name!r} is not granted write; a bidirectional sync writes "
            f"table {table!r}, so both of its connections need write",
            connection=conn.profile.name,
            table=table,
        )


def same_columns(left: TableSchema, right: TableSchema) -> None:
    """Refuse two tables whose columns differ: every row is written to both as it is."""
    lcols = {c.name: c.type for c in left.columns}
    rcols = {c.name: c.type for c in right.columns}
    if lcols != rcols or left.primary_key != right.primary_key:
        raise SchemaMismatchError(
            f"tables {left.table!r} and {right.table!r} must have the same columns and key to sync "
            f"both ways: {sorted(lcols.items())} / {left.primary_key} vs {sorted(rcols.items())} / "
            f"{right.primary_key}",
            table=right.table,
        )


class BidiSteps:
    """The three 3.4.3 activities; one per worker, on the connections and buffer its SyncSteps use."""

    def __init__(self, *, connections: Callable[[], ProfileSource], buffer: BufferStore | None) -> None:
        self.connections = connections
        self.buffer = buffer

    def _open(self, name: str) -> SqlConnector:
        # Looked up per call, as in SyncSteps: credentials added while the worker runs are seen.
        return open_connector(self.connections().get(name))

    def _require_buffer(self) -> BufferStore:
        if self.buffer is None:
            raise InvalidInputError("this worker has no buffer configured")
        return self.buffer

    def _read_shadow(self, conn: SqlConnector, table: str) -> dict[str, str]:
        try:
            conn.table_schema(table)
        except TableNotFoundError:
            return {}  # first run: nothing agreed yet
        shadow: dict[str, str] = {}
        for batch in conn.extract(schema=shadow_schema(table), order_by=["row_key"]):
            shadow.update(zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True))
        return shadow

    @activity.defn(name=b.BIDI_COLLECT)
    def collect(self, inp: b.CollectInput) -> b.CollectResult:
        """Write the side's rows that differ from the shadow, at or after its cursor, into the buffer.

        Read-only on the side's data (trigger mode installs its log once); a retry starts over.
        """
        with activity_errors():
            check_tenant(inp.tenant)
            buffer = self._require_buffer()
            with self._open(inp.connection) as conn:
                require_write(conn, inp.table)
                schema = conn.table_schema(inp.table)
                if not schema.primary_key:
                    raise InvalidInputError(f"table {inp.table!r} has no primary key", table=inp.table)
                source, order, since_column = self._source(conn, schema, inp)
                shadow = self._read_shadow(conn, inp.shadow_table)
                writer = buffer.open_writer(tenant=inp.tenant, run_id=inp.run_id, table_schema=schema)
                rows_read = changed = 0
                # trigger mode's first round reads the whole table; later rounds the log from seq 0 on
                cursor = 0 if inp.change_column is None and inp.since is None else inp.since
                names = [c.name for c in schema.columns]
                seen: set[str] = set()
                for batch in conn.extract(
                    schema=source,
                    order_by=order,
                    since=inp.since,
                    since_column=since_column,
                    batch_rows=inp.limits.batch_rows,
                ):
                    if batch.num_rows == 0:
                        continue
                    rows_read += batch.num_rows
                    if since_column is not None:
                        cursor = conn.position_of(batch, order)[0]
                    batch = batch.select(names)
                    keys = row_keys(batch, schema)
                    seen.update(keys)
                    mask = [shadow.get(k) != h for k, h in zip(keys, row_hashes(batch, schema), strict=True)]
                    changed += self._write(writer, batch, mask)
                    activity.heartbeat()
                wanted = set(inp.include_keys) - seen
                for batch in self._by_keys(conn, schema, wanted, inp.limits.batch_rows):
                    rows_read += batch.num_rows
                    changed += self._write(writer, batch, [True] * batch.num_rows)
                return b.CollectResult(
                    buffer=writer.finish(), rows_read=rows_read, changed=changed, max_cursor=cursor
                )

    @staticmethod
    def _source(
        conn: SqlConnector, schema: TableSchema, inp: b.CollectInput
    ) -> tuple[TableSchema, list[str], str | None]:
        """What collect reads, in which order, and from which cursor column.

        The table by its change column, or (no change column) the table joined to the
        trigger-maintained log by ``seq``.
        """
        key = list(schema.primary_key)
        if inp.change_column is None:
            pg = triggers.require_postgres(conn, inp.table)
            triggers.install(pg, schema, inp.shadow_table)
            if inp.since is None:
                return schema, key, None
            return triggers.changes_source(pg, schema, inp.shadow_table), [triggers.SEQ, *key], triggers.SEQ
        if schema.column(inp.change_column) is None:
            raise InvalidInputError(
                f"change column {inp.change_column!r} is not a column of {inp.table!r}",
                table=inp.table,
                column=inp.change_column,
            )
        return schema, [inp.change_column, *key], inp.change_column

    @staticmethod
    def _write(writer: Any, batch: pa.RecordBatch, mask: list[bool]) -> int:
        selected = batch.filter(pa.array(mask, pa.bool_()))
        if selected.num_rows:
            writer.write(selected)
        return selected.num_rows

    def _by_keys(
        self, conn: SqlConnector, schema: TableSchema, wanted: set[str], batch_rows: int
    ) -> Iterator[pa.RecordBatch]:
        """Rows of the given keys (resolved conflicts older than the cursor), by one keyed scan."""
        if not wanted:
            return
        for batch in conn.extract(schema=schema, order_by=list(schema.primary_key), batch_rows=batch_rows):
            mask = [k in wanted for k in row_keys(batch, schema)]
            selected = batch.filter(pa.array(mask, pa.bool_()))
            activity.heartbeat()
            if selected.num_rows:
                yield selected

    def _changes(self, ref: BufferRef, tenant: str, change_column: str | None) -> dict[str, Change]:
        buffer = self._require_buffer()
        schema = ref.table_schema
        out: dict[str, Change] = {}
        for chunk in ref.chunks:
            table = buffer.read_chunk(ref, chunk, tenant=tenant)
            for batch in table.to_batches():
                keys, digests = row_keys(batch, schema), row_hashes(batch, schema)
                for key, digest, row in zip(keys, digests, batch.to_pylist(), strict=True):
                    version = row[change_column] if change_column else None
                    out[key] = Change(row=row, digest=digest, version=version)
            activity.heartbeat()
        return out

    @activity.defn(name=b.BIDI_RECONCILE)
    def reconcile(self, inp: b.ReconcileInput) -> b.ReconcileResult:
        """Pair the two sides' changes by key and write the rows both sides must hold to the buffer.

        A key changed on one side takes that side's row; changed on both to the same content is
        simply agreed; changed differently is a conflict the policy decides (or parks). Keys of
        open parked conflicts are held; resolved ones take the chosen side's row.
        """
        with activity_errors():
            check_tenant(inp.tenant)
            same_columns(inp.left.table_schema, inp.right.table_schema)
            left = self._changes(inp.left, inp.tenant, inp.change_column)
            right = self._changes(inp.right, inp.tenant, inp.change_column)
            parked = set(inp.parked)
            resolutions = {r.row_key: r for r in inp.resolutions}
            change_type = inp.left.table_schema.column(inp.change_column or "")
            agreed: list[dict[str, Any]] = []
            new: list[b.ConflictRecord] = []
            resolved: list[str] = []
            conflicts = held = 0
            for key in sorted(left.keys() | right.keys()):
                lc, rc = left.get(key), right.get(key)
                if key in resolutions:
                    res = resolutions[key]
                    chosen = lc if res.winner == "left" else rc
                    if chosen is not None:
                        agreed.append(chosen.row)
                    resolved.append(res.conflict_id)
                    continue
                if key in parked:
                    held += 1
                    continue
                if lc is None or rc is None:
                    agreed.append((lc or rc).row)  # type: ignore[union-attr]
                    continue
                if lc.digest == rc.digest:
                    agreed.append(lc.row)
                    continue
                conflicts += 1
                winner = decide(lc, rc, policy=inp.policy, priority=inp.priority, tie_winner=inp.tie_winner)
                if winner is None:
                    new.append(
                        b.ConflictRecord(
                            row_key=key,
                            left_version=version_text(change_type, lc.version),
                            right_version=version_text(change_type, rc.version),
                        )
                    )
                else:
                    agreed.append((lc if winner == "left" else rc).row)
            ref = self._write_agreed(inp, agreed)
            return b.ReconcileResult(
                agreed=ref, conflicts=conflicts, new_conflicts=tuple(new), held=held, resolved=tuple(resolved)
            )

    def _write_agreed(self, inp: b.ReconcileInput, rows: list[dict[str, Any]]) -> BufferRef:
        schema = inp.left.table_schema
        writer = self._require_buffer().open_writer(tenant=inp.tenant, run_id=inp.run_id, table_schema=schema)
        target = arrow_schema(schema)
        size = inp.limits.batch_rows
        for start in range(0, len(rows), size):
            writer.write(pa.RecordBatch.from_pylist(rows[start : start + size], schema=target))
            activity.heartbeat()
        return writer.finish()

    @activity.defn(name=b.BIDI_APPLY, no_thread_cancel_exception=True)
    def apply(self, inp: b.ApplyInput) -> int:
        """Upsert the agreed rows still as the round read them (its shadow is marked later, by ``bidi_mark``).

        Each chunk's target rows are locked and compared with what the round read (the side's
        collected row, else its shadow hash, else absent) in the upsert's own transaction; a row
        the side changed since is skipped, left unmarked, and read as a change next round. A
        chunk applied twice (a crash before its heartbeat) changes nothing: returns the rows the
        side really changed; a row the side already held counts zero.
        """
        with activity_errors():
            check_tenant(inp.tenant)
            read: dict[str, str | None] | None = None

            def load(dst: SqlConnector, schema: TableSchema, table: pa.Table) -> int:
                nonlocal read
                if inp.read is None:  # a round started before the guard existed
                    return dst.load(schema=schema, batch=table, key=schema.primary_key, table=inp.table)
                if read is None:
                    read = {**self._read_shadow(dst, inp.shadow_table), **self._hashes(inp.read, inp.tenant)}
                with dst.write_transaction():
                    triggers.mark_sync_origin(dst)
                    held, agreed = self._current(dst, schema, table, inp.table)
                    keep = [held.get(k) in (read.get(k), h) for k, h in agreed]
                    return dst.load(
                        schema=schema,
                        batch=table.filter(pa.array(keep, pa.bool_())),
                        key=schema.primary_key,
                        table=inp.table,
                    )

            return self._each_chunk(inp, load)

    @activity.defn(name=b.BIDI_MARK, no_thread_cancel_exception=True)
    def mark(self, inp: b.ApplyInput) -> int:
        """Record in the side's shadow the agreed rows it holds, once both sides applied them.

        Marking only after both applies keeps the two shadows equal: if one side's apply fails,
        neither shadow moved, so the next round sees every unsynced row as a change again. A row
        the side changed after the round read it (skipped by the apply) is not marked, so it
        stays a change. Returns the rows marked.
        """
        with activity_errors():
            check_tenant(inp.tenant)
            shadow = shadow_schema(inp.shadow_table)

            def record(dst: SqlConnector, schema: TableSchema, table: pa.Table) -> int:
                with dst.write_transaction():
                    held, agreed = self._current(dst, schema, table, inp.table)
                    pairs = [(k, h) for k, h in agreed if inp.read is None or held.get(k) == h]
                    if pairs:
                        rows = {"row_key": [k for k, _ in pairs], "row_hash": [h for _, h in pairs]}
                        dst.load(schema=shadow, batch=pa.table(rows), key=shadow.primary_key)
                return len(pairs)

            return self._each_chunk(inp, record, shadow=shadow)

    def _hashes(self, ref: BufferRef, tenant: str) -> dict[str, str | None]:
        """Key -> content hash of the rows in ``ref`` (a side's collected rows)."""
        buffer = self._require_buffer()
        out: dict[str, str | None] = {}
        for chunk in ref.chunks:
            for batch in buffer.read_chunk(ref, chunk, tenant=tenant).to_batches():
                out.update(
                    zip(row_keys(batch, ref.table_schema), row_hashes(batch, ref.table_schema), strict=True)
                )
            activity.heartbeat()
        return out

    @staticmethod
    def _current(
        dst: SqlConnector, schema: TableSchema, table: pa.Table, name: str
    ) -> tuple[dict[str, str], list[tuple[str, str]]]:
        """The side's locked rows of ``table``'s keys (key -> hash), and ``table``'s (key, hash) pairs."""
        ordered = table.select([c.name for c in schema.columns])
        held: dict[str, str] = {}
        for batch in dst.locked_rows(schema, ordered, table=name).to_batches():
            held.update(zip(row_keys(batch, schema), row_hashes(batch, schema), strict=True))
        agreed: list[tuple[str, str]] = []
        for batch in ordered.to_batches():
            agreed.extend(zip(row_keys(batch, schema), row_hashes(batch, schema), strict=True))
        return held, agreed

    def _each_chunk(
        self,
        inp: b.ApplyInput,
        step: Callable[[SqlConnector, TableSchema, pa.Table], int],
        *,
        shadow: TableSchema | None = None,
    ) -> int:
        """Run ``step`` on each agreed chunk, heartbeating ``(chunks done, total)``: a retry resumes."""
        buffer = self._require_buffer()
        details = activity.info().heartbeat_details
        done, total = tuple(details[0]) if details else (0, 0)
        with self._open(inp.connection) as dst:
            require_write(dst, inp.table)
            schema = dst.table_schema(inp.table)
            same_columns(inp.agreed.table_schema, schema)
            if shadow is not None:
                dst.ensure_table(shadow)
            for index, chunk in enumerate(inp.agreed.chunks[done:], start=done):
                total += step(dst, schema, buffer.read_chunk(inp.agreed, chunk, tenant=inp.tenant))
                activity.heartbeat((index + 1, total))
        return int(total)

    def all(self) -> list[Any]:
        """Every activity of this class, for ``Worker(activities=...)``."""
        return [self.collect, self.reconcile, self.apply, self.mark]
