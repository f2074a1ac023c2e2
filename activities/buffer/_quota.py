"""The buffer quota as an object-store wrapper: a put that would take its tenant over quota is refused.

Both the cloud workers and the gateway (which stores agents' chunks) write through a store built
by :func:`activities.wiring.build_backend`; given a :class:`BufferQuota` it wraps that store in
:class:`QuotaBackend`. An agent never holds the store, so it cannot write around the check.
Where the limits come from (the tenants' tiers) is :mod:`activities.quotas`' business.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from activities.buffer._backend import ObjectBackend, ObjectInfo
from activities.errors import QuotaExceededError


def buffer_usage(backend: ObjectBackend, *, tenant: str, ttl: timedelta, now: datetime) -> int:
    """Bytes of the tenant's unexpired buffer objects.

    An object counts until ``ttl`` after it was last written. Its authenticated expiry is
    ``ttl`` after its *buffer's* creation, which is never later, so this errs towards counting
    an object a little longer, never shorter, and needs only a listing (no object reads).
    """
    return sum(info.size for info in backend.list(f"{tenant}/") if info.last_modified + ttl > now)


class BufferQuota:
    """What :class:`QuotaBackend` needs: each tenant's limit, the objects' lifetime and the time.

    Args:
        limit_of: Bytes a tenant may hold, by tenant id.
        ttl: Lifetime of buffer objects (the buffer's configured TTL).
        clock: Current aware time; injectable for tests.
    """

    def __init__(
        self,
        *,
        limit_of: Callable[[str], int],
        ttl: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.limit_of = limit_of
        self.ttl = ttl
        self.clock = clock


class QuotaBackend:
    """An :class:`ObjectBackend` that refuses a put taking the key's tenant over its buffer quota.

    The tenant is the key's first component (the buffer's layout is ``<tenant>/<run>/...``).
    Two concurrent writers can each pass the check and together overshoot by one chunk each;
    the quota bounds usage, it is not a reservation system.

    Args:
        inner: The real store.
        quota: Limits, lifetime and clock.
    """

    def __init__(self, inner: ObjectBackend, *, quota: BufferQuota) -> None:
        self._inner = inner
        self._quota = quota

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` if the tenant stays within its quota.

        Raises:
            QuotaExceededError: The tenant's unexpired objects plus ``data`` exceed its quota.
        """
        tenant = key.split("/", 1)[0]
        limit = self._quota.limit_of(tenant)
        used = buffer_usage(self._inner, tenant=tenant, ttl=self._quota.ttl, now=self._quota.clock())
        if used + len(data) > limit:
            raise QuotaExceededError(
                f"tenant {tenant!r} would exceed its buffer quota of {limit} bytes: {used} bytes of "
                f"unexpired chunks are held and this chunk is {len(data)} bytes; the run stops here and "
                "loads nothing from this extract (free space by letting runs finish or expire, or move "
                "to a larger tier)",
                tenant=tenant,
                quota_bytes=limit,
                used_bytes=used,
                chunk_bytes=len(data),
            )
        self._inner.put(key, data)

    def get(self, key: str, *, length: int | None = None) -> bytes:
        """Read from the real store."""
        return self._inner.get(key, length=length)

    def delete(self, key: str) -> None:
        """Delete from the real store."""
        self._inner.delete(key)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """List the real store."""
        return self._inner.list(prefix)
