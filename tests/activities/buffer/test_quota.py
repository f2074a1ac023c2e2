"""The buffer quota: a chunk that would take its tenant over quota fails terminally, and the cut-short
extract's chunks are removed (on the directory and the S3 backend)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from activities.buffer import BufferQuota, BufferStore, ObjectBackend, QuotaBackend, buffer_usage
from activities.crypto import LocalKeyring
from activities.errors import QuotaExceededError, to_application_error
from tests.activities.buffer.helpers import SCHEMA, FakeClock, batch

TTL = timedelta(hours=1)


def chunk_size(backend: ObjectBackend, keyring: LocalKeyring, clock: FakeClock) -> int:
    """Size of one sealed 50-row chunk, measured on an unlimited store and removed again."""
    store = BufferStore(backend=backend, keyring=keyring, ttl=TTL, clock=clock)
    size = store.open_writer(tenant="probe", run_id="probe", table_schema=SCHEMA).write(batch(0, 50)).size
    store.purge_run(tenant="probe", run_id="probe")
    return size


def limited(backend: ObjectBackend, keyring: LocalKeyring, clock: FakeClock, limit: int) -> BufferStore:
    quota = BufferQuota(limit_of=lambda tenant: limit if tenant == "acme" else 10**9, ttl=TTL, clock=clock)
    return BufferStore(backend=QuotaBackend(backend, quota=quota), keyring=keyring, ttl=TTL, clock=clock)


def test_buffer_quota_refuses_chunk_and_discards_the_partial_extract(
    backend: ObjectBackend, keyring: LocalKeyring, clock: FakeClock
) -> None:
    size = chunk_size(backend, keyring, clock)
    store = limited(backend, keyring, clock, limit=size * 3 // 2)
    writer = store.open_writer(tenant="acme", run_id="run1", table_schema=SCHEMA)
    writer.write(batch(0, 50))
    assert buffer_usage(backend, tenant="acme", ttl=TTL, now=clock()) == size
    with pytest.raises(QuotaExceededError) as refused:
        writer.write(batch(50, 50))
    assert refused.value.fields["quota_bytes"] == size * 3 // 2 and refused.value.fields["used_bytes"] == size
    assert "would exceed its buffer quota" in refused.value.message
    # Nothing of the cut-short extract is left to load, nor to hold the quota.
    assert list(backend.list("acme/")) == []
    assert writer.finish().chunks == ()
    failure = to_application_error(refused.value)
    assert failure.non_retryable is True and failure.type == "QuotaExceededError"
    # With the space back, the tenant writes again.
    assert (
        store.open_writer(tenant="acme", run_id="run2", table_schema=SCHEMA).write(batch(0, 50)).size == size
    )


def test_buffer_quota_counts_only_the_tenants_unexpired_objects(
    backend: ObjectBackend, keyring: LocalKeyring, clock: FakeClock
) -> None:
    size = chunk_size(backend, keyring, clock)
    store = limited(backend, keyring, clock, limit=size * 3 // 2)
    store.open_writer(tenant="acme", run_id="run1", table_schema=SCHEMA).write(batch(0, 50))
    with pytest.raises(QuotaExceededError):
        store.open_writer(tenant="acme", run_id="run2", table_schema=SCHEMA).write(batch(0, 50))
    # Another tenant is not held back by acme's usage.
    store.open_writer(tenant="other", run_id="run1", table_schema=SCHEMA).write(batch(0, 50))
    # Once run1's chunk is past its lifetime it no longer counts, swept or not.
    clock.advance(TTL + timedelta(seconds=1))
    assert buffer_usage(backend, tenant="acme", ttl=TTL, now=clock()) == 0
    assert len(list(backend.list("acme/"))) == 1
    store.open_writer(tenant="acme", run_id="run3", table_schema=SCHEMA).write(batch(0, 50))
