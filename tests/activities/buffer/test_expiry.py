"""R12: expired objects are unreadable even while present, and the sweeper removes exactly them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from activities.buffer import BufferStore, DirectoryBackend, ObjectBackend
from activities.buffer.s3 import LIFECYCLE_RULE_ID, S3Backend
from activities.crypto import LocalKeyring
from activities.errors import BufferExpiredError
from tests.activities.buffer.helpers import SCHEMA, FakeClock, batch
from workflows.types import BufferRef

TTL = timedelta(hours=24)


def _write_objects(store: BufferStore, *, run_id: str, count: int) -> BufferRef:
    writer = store.open_writer(tenant="acme", run_id=run_id, table_schema=SCHEMA)
    for i in range(count):
        writer.write(batch(i, 2))
    return writer.finish()


def test_r12_expired_reads_refused_and_swept(
    backend: ObjectBackend, keyring: LocalKeyring, clock: FakeClock
) -> None:
    store = BufferStore(backend=backend, keyring=keyring, ttl=TTL, clock=clock)
    old = _write_objects(store, run_id="old", count=100)
    clock.advance(TTL / 2)
    fresh = _write_objects(store, run_id="fresh", count=5)
    clock.advance(TTL / 2 + timedelta(seconds=1))  # old is past TTL, fresh is not

    present = {info.key for info in backend.list("acme/old/")}
    assert present == {c.key for c in old.chunks}  # still there ...
    refused = 0
    for chunk in old.chunks:
        with pytest.raises(BufferExpiredError):
            store.read_chunk(old, chunk, tenant="acme")
        refused += 1
    print(f"R12 expired reads refused: {refused}/100")
    assert refused == 100  # ... but 100 % unreadable

    assert store.sweep() == 100
    assert store.sweep() == 0
    assert list(backend.list("acme/old/")) == []
    assert sum(b.num_rows for b in store.read(fresh, tenant="acme")) == 10  # untouched

    clock.advance(TTL)
    assert store.sweep() == 5


def test_r12_expiry_boundary_is_exclusive(
    backend: ObjectBackend, keyring: LocalKeyring, clock: FakeClock
) -> None:
    store = BufferStore(backend=backend, keyring=keyring, ttl=TTL, clock=clock)
    ref = _write_objects(store, run_id="edge", count=1)
    clock.advance(TTL - timedelta(microseconds=1))
    assert store.read_chunk(ref, ref.chunks[0], tenant="acme").num_rows == 2
    assert store.sweep() == 0
    clock.advance(timedelta(microseconds=1))
    with pytest.raises(BufferExpiredError):
        store.read_chunk(ref, ref.chunks[0], tenant="acme")
    assert store.sweep() == 1


def test_r12_stale_object_with_unreadable_header_is_swept(
    tmp_path: Path, keyring: LocalKeyring, clock: FakeClock
) -> None:
    backend = DirectoryBackend(tmp_path / "objects")
    store = BufferStore(backend=backend, keyring=keyring, ttl=TTL, clock=clock)
    backend.put("acme/run/00000000-junk.vsc", b"not a buffer object")
    assert store.sweep() == 0  # younger than ttl by last-modified
    clock.advance(TTL + timedelta(minutes=1))
    assert store.sweep() == 1


def test_r12_lifecycle_rule_installed_as_backstop(
    s3_backend: S3Backend, s3_client: Any, s3_bucket: str
) -> None:
    s3_client.put_bucket_lifecycle_configuration(
        Bucket=s3_bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "keep-me",
                    "Filter": {"Prefix": "other/"},
                    "Status": "Enabled",
                    "Expiration": {"Days": 9},
                }
            ]
        },
    )
    s3_backend.ensure_lifecycle(2)
    s3_backend.ensure_lifecycle(1)  # idempotent: replaces our rule, keeps others
    rules = {r["ID"]: r for r in s3_client.get_bucket_lifecycle_configuration(Bucket=s3_bucket)["Rules"]}
    assert set(rules) == {"keep-me", LIFECYCLE_RULE_ID}
    ours = rules[LIFECYCLE_RULE_ID]
    assert ours["Status"] == "Enabled" and ours["Expiration"]["Days"] == 1
    assert ours["Filter"]["Prefix"] == "buffer/"


def test_a_temp_file_left_by_a_killed_writer_is_purged_and_swept(
    tmp_path: Path, keyring: LocalKeyring, clock: FakeClock
) -> None:
    backend = DirectoryBackend(tmp_path / "objects")
    store = BufferStore(backend=backend, keyring=keyring, ttl=timedelta(hours=1), clock=clock)
    run_dir = tmp_path / "objects" / "acme" / "run-1"
    run_dir.mkdir(parents=True)
    (run_dir / ".tmp-0123456789abcdef-00000003-deadbeef.vsc").write_bytes(b"half a chunk")
    (run_dir / ".tmp-fedcba9876543210-00000004-deadbeef.vsc").write_bytes(b"another half")
    assert len(list(backend.list("acme/run-1/"))) == 2
    assert store.sweep() == 0  # young: a writer may still be renaming it
    assert store.purge_run(tenant="acme", run_id="run-1") == 2
    (run_dir / ".tmp-0123456789abcdef-00000005-deadbeef.vsc").write_bytes(b"orphan")
    assert store.sweep(now=clock() + timedelta(days=1)) == 1
    assert not [p for p in run_dir.rglob("*") if p.is_file()]
