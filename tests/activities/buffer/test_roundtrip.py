from __future__ import annotations

import secrets
from pathlib import Path

import pyarrow as pa
import pytest

from activities.buffer import BufferStore, DirectoryBackend, ObjectBackend
from activities.crypto import LocalKeyring
from activities.errors import (
    BufferIntegrityError,
    BufferNotFoundError,
    KeyUnavailableError,
    SchemaMismatchError,
)
from tests.activities.buffer.helpers import SCHEMA, AuditLog, FakeClock, batch
from workflows.types import BufferRef


def _write(store: BufferStore, *, tenant: str = "acme", run_id: str = "run-1", chunks: int = 3) -> BufferRef:
    writer = store.open_writer(tenant=tenant, run_id=run_id, table_schema=SCHEMA)
    for i in range(chunks):
        writer.write(batch(i * 100, 100))
    return writer.finish()


def test_round_trip_returns_exact_rows(store: BufferStore, backend: ObjectBackend) -> None:
    ref = _write(store, chunks=3)
    assert ref.rows == 300
    assert [c.seq for c in ref.chunks] == [0, 1, 2]
    assert all(c.key.startswith("acme/run-1/") and c.key.endswith(".vsc") for c in ref.chunks)
    assert pa.Table.from_batches(list(store.read(ref, tenant="acme"))).column("id").to_pylist() == list(
        range(300)
    )
    # the ref survives a trip through a Temporal history (JSON)
    again = BufferRef.model_validate_json(ref.model_dump_json())
    assert store.read_chunk(again, again.chunks[1], tenant="acme").column("id").to_pylist() == list(
        range(100, 200)
    )
    assert sorted(info.key for info in backend.list("acme/")) == sorted(c.key for c in ref.chunks)


def test_stored_object_holds_no_plaintext(store: BufferStore, backend: ObjectBackend) -> None:
    ref = _write(store, chunks=1)
    blob = backend.get(ref.chunks[0].key)
    assert b"row-42" not in blob and b"note" not in blob


def test_start_seq_continues_numbering(store: BufferStore) -> None:
    writer = store.open_writer(tenant="acme", run_id="run-1", table_schema=SCHEMA, start_seq=5)
    writer.write(batch(0, 3))
    ref = writer.finish()
    assert ref.chunks[0].seq == 5
    assert store.read_chunk(ref, ref.chunks[0], tenant="acme").num_rows == 3


def test_read_other_tenant_is_refused_and_audited(store: BufferStore, audit: AuditLog) -> None:
    ref = _write(store, chunks=2)
    rows = 0
    with pytest.raises(BufferIntegrityError):
        for b in store.read(ref, tenant="globex"):
            rows += b.num_rows
    assert rows == 0
    assert len(audit.events) == 1 and audit.events[0][1]["caller_tenant"] == "globex"


def test_delete_then_read_is_not_found(store: BufferStore) -> None:
    ref = _write(store, chunks=2)
    store.delete(ref)
    with pytest.raises(BufferNotFoundError):
        list(store.read(ref, tenant="acme"))


def test_batch_with_wrong_columns_is_rejected(store: BufferStore) -> None:
    writer = store.open_writer(tenant="acme", run_id="run-1", table_schema=SCHEMA)
    with pytest.raises(SchemaMismatchError, match="orders"):
        writer.write(pa.RecordBatch.from_pydict({"id": [1]}))


def test_wrong_master_key_fails_closed(tmp_path: Path, store: BufferStore, backend: ObjectBackend) -> None:
    ref = _write(store, chunks=1)
    other = BufferStore(
        backend=backend, keyring=LocalKeyring(tmp_path / "keys", secrets.token_bytes(32)), clock=store._clock
    )
    with pytest.raises(KeyUnavailableError):
        list(other.read(ref, tenant="acme"))


def test_rotation_mid_run_keeps_old_chunks_readable(tmp_path: Path, master_key: bytes) -> None:
    keyring = LocalKeyring(tmp_path / "keys", master_key, max_messages=2)
    store = BufferStore(backend=DirectoryBackend(tmp_path / "objects"), keyring=keyring, clock=FakeClock())
    first = _write(store, run_id="run-a", chunks=5)
    later = _write(store, run_id="run-b", chunks=2)
    key_ids = [c.key_id for c in first.chunks + later.chunks]
    # cap 2: keys change every two messages, and no key seals more than two chunks
    assert len(set(key_ids)) == 4
    assert max(key_ids.count(k) for k in key_ids) == 2
    assert first.key_id == first.chunks[0].key_id
    # a fresh keyring (e.g. after a restart) still opens every old chunk by key id
    reopened = BufferStore(
        backend=DirectoryBackend(tmp_path / "objects"),
        keyring=LocalKeyring(tmp_path / "keys", master_key, max_messages=2),
        clock=store._clock,
    )
    assert sum(b.num_rows for b in reopened.read(first, tenant="acme")) == 500
    assert sum(b.num_rows for b in reopened.read(later, tenant="acme")) == 200


def test_writer_streams_without_holding_rows(store: BufferStore) -> None:
    writer = store.open_writer(tenant="acme", run_id="run-1", table_schema=SCHEMA)
    for i in range(20):
        writer.write(batch(i * 10, 10))
    # only references are retained between writes
    assert all(not isinstance(v, pa.RecordBatch | pa.Table) for v in vars(writer).values())
    assert writer.finish().rows == 200
