"""Quota enforcement shared by the cloud workers and the gateway: tier lookups and the buffer quota.

The buffer quota is enforced in the object store that both the cloud workers and the gateway
(for agent uploads) write through: :func:`activities.wiring.build_backend` wraps it in
:class:`QuotaBackend` when given a :class:`BufferQuota`. An agent never holds the store, so it
cannot write around the check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from activities.buffer import ObjectBackend, ObjectInfo
from activities.errors import QuotaExceededError
from activities.metadata import Tenant, global_session
from activities.tiers import Tier, tier_of_record


def tenant_tier(engine: Engine, tenant: str) -> Tier:
    """The tier of a provisioned tenant (the free tier for an unknown tenant: the tightest quotas)."""
    with global_session(engine) as session:
        stored = session.scalar(select(Tenant.tier).where(Tenant.id == tenant))
    return tier_of_record(stored or "free")


def tenant_tiers(engine: Engine) -> dict[str, str]:
    """Every provisioned tenant's stored tier name, by tenant id."""
    with global_session(engine) as session:
        return {row.id: row.tier for row in session.execute(select(Tenant.id, Tenant.tier))}


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
        limit_of: Bytes tenant may hold, by tenant id (e.g. from :func:`tenant_tier`).
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

    @classmethod
    def from_tiers(cls, engine: Engine, *, ttl: timedelta) -> BufferQuota:
        """The quota of each tenant's tier, read from the metadata store at every write."""
        return cls(limit_of=lambda tenant: tenant_tier(engine, tenant).buffer_bytes, ttl=ttl)


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
