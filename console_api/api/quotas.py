"""Tier quotas as the API enforces them: requests per minute, concurrent executions, agents.

Every refusal is a 429 problem with a detail naming the quota and the tier. The request rate
is counted per API process (a token bucket per tenant in memory); behind a load balancer with
N processes a tenant gets up to N times its rate, so size the tier for that or pin tenants.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException
from sqlalchemy import Engine, select
from temporalio.client import Client

from activities.metadata import Agent, EnrollmentToken, tenant_session
from activities.metadata._models import as_utc, utcnow
from activities.tiers import Tier
from workflows.queues import cloud_queue


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Per-tenant token buckets: ``per_minute`` requests in a burst, refilled evenly over a minute.

    Args:
        clock: Monotonic seconds; injectable for tests.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        # Sync routes run in a thread pool: one lock keeps take-and-decrement atomic.
        self._lock = threading.Lock()

    def _refilled(self, tenant: str, per_minute: int) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.setdefault(tenant, _Bucket(tokens=float(per_minute), at=now))
        bucket.tokens = min(float(per_minute), bucket.tokens + (now - bucket.at) * per_minute / 60.0)
        bucket.at = now
        return bucket

    def take(self, tenant: str, *, per_minute: int) -> float | None:
        """Spend one request of ``tenant``; ``None`` when allowed, else seconds until one is."""
        with self._lock:
            bucket = self._refilled(tenant, per_minute)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return (1.0 - bucket.tokens) * 60.0 / per_minute

    def remaining(self, tenant: str, *, per_minute: int) -> int:
        """Whole requests ``tenant`` may still make right now."""
        with self._lock:
            return int(self._refilled(tenant, per_minute).tokens)


def rate_limited(tenant: str, tier: Tier, retry_after: float) -> HTTPException:
    """The 429 for a tenant over its request rate, with ``Retry-After`` in whole seconds."""
    return HTTPException(
        429,
        f"tenant {tenant!r} exceeded {tier.api_calls_per_minute} API calls per minute ({tier.name} tier); "
        "retry after the time in Retry-After",
        headers={"Retry-After": str(max(1, math.ceil(retry_after)))},
    )


async def require_execution_slot(client: Client, *, tenant: str, tier: Tier) -> None:
    """Refuse (429) a start when the tenant already runs its tier's number of executions.

    Counted from Temporal visibility on the tenant's cloud queue, so runs started by schedules
    and webhooks count too. Two starts racing for the last slot can both pass.

    Raises:
        HTTPException: 429 when ``concurrent_executions`` runs are RUNNING.
    """
    query = f'TaskQueue = "{cloud_queue(tenant)}" AND ExecutionStatus = "Running"'
    running = (await client.count_workflows(query)).count
    if running >= tier.concurrent_executions:
        raise HTTPException(
            429,
            f"tenant {tenant!r} already has {running} running executions and its {tier.name} tier "
            f"allows {tier.concurrent_executions} at once; nothing was started (wait for a run to "
            "finish or cancel one)",
        )


def agent_ids_in_use(engine: Engine, tenant: str) -> set[str]:
    """Agent ids counted against the agents quota: unrevoked agents and live enrollment tokens."""
    now = utcnow()
    with tenant_session(engine, tenant) as session:
        enrolled = set(session.scalars(select(Agent.connector_id).where(Agent.revoked_at.is_(None))))
        tokens = session.execute(
            select(EnrollmentToken.agent_id, EnrollmentToken.expires_at).where(
                EnrollmentToken.used_at.is_(None)
            )
        ).all()
    return enrolled | {t.agent_id for t in tokens if as_utc(t.expires_at) > now}


def require_agent_slot(engine: Engine, *, tenant: str, tier: Tier, agent_id: str) -> None:
    """Refuse (429) a token for a new agent id once the tier's agent count is reached.

    A token for an agent id already counted (re-enrolling it, a second token) is allowed.

    Raises:
        HTTPException: 429 when ``agent_id`` would be one agent too many.
    """
    in_use = agent_ids_in_use(engine, tenant)
    if agent_id not in in_use and len(in_use) >= tier.agents:
        raise HTTPException(
            429,
            f"tenant {tenant!r} has {len(in_use)} agents (enrolled or with an open enrollment token) and "
            f"its {tier.name} tier allows {tier.agents}; revoke one before enrolling {agent_id!r}",
        )
