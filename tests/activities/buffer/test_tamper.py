"""S1: every tampered, truncated, swapped or rolled-back chunk is refused, audited and yields 0 rows."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from activities.buffer import BufferStore, ObjectBackend, decode_header
from activities.errors import BufferIntegrityError
from tests.activities.buffer.helpers import SCHEMA, AuditLog, batch
from workflows.types import BufferRef, ChunkRef

OBJECTS = 20


@dataclass
class Runs:
    target: BufferRef  # acme / run-1, the chunks under attack
    older: BufferRef  # an earlier write of the same tenant, run and seqs (rollback source)
    other_run: BufferRef  # acme / run-2
    other_tenant: BufferRef  # globex / run-1


def _write(store: BufferStore, tenant: str, run_id: str) -> BufferRef:
    writer = store.open_writer(tenant=tenant, run_id=run_id, table_schema=SCHEMA)
    for i in range(OBJECTS):
        writer.write(batch(i * 10, 10))
    return writer.finish()


def _flip(blob: bytes, pos: int) -> bytes:
    return blob[:pos] + bytes([blob[pos] ^ 0x01]) + blob[pos + 1 :]


def _ciphertext_start(blob: bytes) -> int:
    return decode_header(blob)[1]


Mutation = Callable[[ObjectBackend, Runs, int, bytes], bytes]

MUTATIONS: dict[str, Mutation] = {
    "flip_ciphertext": lambda b, r, i, blob: _flip(
        blob, _ciphertext_start(blob) + (i * 37) % (len(blob) - _ciphertext_start(blob) - 16)
    ),
    "flip_tag": lambda b, r, i, blob: _flip(blob, len(blob) - 16 + i % 16),
    "flip_nonce": lambda b, r, i, blob: _flip(blob, _ciphertext_start(blob) - 16 - 16 - 12 + i % 12),
    "truncate": lambda b, r, i, blob: blob[: len(blob) - 1 - (i * 53) % (len(blob) - 1)],
    "append": lambda b, r, i, blob: blob + bytes(range(1 + i)),
    "swap_position": lambda b, r, i, blob: b.get(r.target.chunks[(i + 1) % OBJECTS].key),
    "swap_tenant_or_run": lambda b, r, i, blob: b.get(
        (r.other_tenant if i % 2 == 0 else r.other_run).chunks[i].key
    ),
}


@pytest.fixture
def runs(store: BufferStore) -> Runs:
    older = _write(store, "acme", "run-1")
    return Runs(
        target=_write(store, "acme", "run-1"),
        older=older,
        other_run=_write(store, "acme", "run-2"),
        other_tenant=_write(store, "globex", "run-1"),
    )


def _attack(
    *,
    store: BufferStore,
    backend: ObjectBackend,
    audit: AuditLog,
    ref: BufferRef,
    chunk: ChunkRef,
    tampered: bytes,
    forge_checksum: bool,
) -> bool:
    """Store ``tampered`` at the chunk's key, read it, restore; True if refused as the plan requires."""
    original = backend.get(chunk.key)
    backend.put(chunk.key, tampered)
    if forge_checksum:  # an attacker who could also rewrite the claim check: only the AEAD layer is left
        chunk = chunk.model_copy(
            update={"sha256": hashlib.sha256(tampered).hexdigest(), "size": len(tampered)}
        )
    single = ref.model_copy(update={"chunks": (chunk,)})
    before, rows, refused = len(audit.events), 0, False
    try:
        for b in store.read(single, tenant=ref.tenant):
            rows += b.num_rows
    except BufferIntegrityError:
        refused = True
    finally:
        backend.put(chunk.key, original)
    new_events = audit.events[before:]
    if forge_checksum and new_events:
        assert "sha256" not in new_events[0][1]["reason"]
    return refused and rows == 0 and len(new_events) == 1 and new_events[0][1]["key"] == chunk.key


@pytest.mark.parametrize("forge_checksum", [False, True], ids=["claim_check", "forged_checksum"])
def test_s1_every_mutation_is_detected(
    store: BufferStore,
    backend: ObjectBackend,
    audit: AuditLog,
    runs: Runs,
    forge_checksum: bool,
    record_property: pytest.RecordProperty,
) -> None:
    detected: dict[str, int] = {}
    for name, mutate in MUTATIONS.items():
        detected[name] = 0
        for i, chunk in enumerate(runs.target.chunks):
            tampered = mutate(backend, runs, i, backend.get(chunk.key))
            assert tampered != backend.get(chunk.key)
            detected[name] += _attack(
                store=store,
                backend=backend,
                audit=audit,
                ref=runs.target,
                chunk=chunk,
                tampered=tampered,
                forge_checksum=forge_checksum,
            )
    total = sum(detected.values())
    record_property("tamper_detected", f"{total}/140")
    mode = "forged checksum" if forge_checksum else "claim check"
    print(f"S1 tamper detection ({mode}): {total}/140 {detected}")
    assert detected == {name: OBJECTS for name in MUTATIONS}
    assert total == 140
    # untouched after restore: the genuine chunks still read back
    assert sum(b.num_rows for b in store.read(runs.target, tenant="acme")) == OBJECTS * 10


@pytest.mark.parametrize("forge_checksum", [False, True], ids=["claim_check", "forged_checksum"])
def test_s1_rollback_to_older_write_is_detected(
    store: BufferStore, backend: ObjectBackend, audit: AuditLog, runs: Runs, forge_checksum: bool
) -> None:
    detected = sum(
        _attack(
            store=store,
            backend=backend,
            audit=audit,
            ref=runs.target,
            chunk=chunk,
            tampered=backend.get(runs.older.chunks[i].key),
            forge_checksum=forge_checksum,
        )
        for i, chunk in enumerate(runs.target.chunks)
    )
    print(f"S1 rollback detection: {detected}/{OBJECTS}")
    assert detected == OBJECTS


def test_s1_good_chunks_before_a_bad_one_are_the_only_rows(
    store: BufferStore, backend: ObjectBackend, audit: AuditLog, runs: Runs
) -> None:
    bad = runs.target.chunks[3]
    backend.put(bad.key, _flip(backend.get(bad.key), len(backend.get(bad.key)) - 1))
    rows = 0
    with pytest.raises(BufferIntegrityError):
        for b in store.read(runs.target, tenant="acme"):
            rows += b.num_rows
    assert rows == 3 * 10
    assert len(audit.events) == 1 and audit.events[0][1]["seq"] == "3"
