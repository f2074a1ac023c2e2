"""Service tiers: what each tier allows a tenant, and which cloud worker pool serves it.

The one owner of tier names and their quotas; the console API, the gateway and the cloud
workers all read them from here. Tiers are set by the platform's operator
(``provision_tenant(..., tier=...)``), never by a tenant.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from activities.errors import InvalidInputError

log = logging.getLogger("vsc.tiers")

TierName = Literal["free", "pro", "enterprise"]
TIER_NAMES: tuple[str, ...] = get_args(TierName)
DEFAULT_TIER: TierName = "free"


class Tier(BaseModel):
    """One tier's quotas and worker pool."""

    model_config = ConfigDict(frozen=True)

    name: TierName
    concurrent_executions: int = Field(ge=1)
    """Runs that may be RUNNING at once on the tenant's cloud queue; a start beyond it is 429."""
    buffer_bytes: int = Field(ge=0)
    """Bytes of unexpired buffer objects the tenant may hold; a chunk beyond it fails the run."""
    api_calls_per_minute: int = Field(ge=1)
    """Authenticated API requests per minute (per API process); beyond it 429 with Retry-After."""
    agents: int = Field(ge=0)
    """Enrolled (not revoked) agents plus outstanding enrollment tokens, by distinct agent id."""
    worker_pool: str
    """Name of the cloud worker pool that serves the tenant's ``vsc.<tenant>.cloud`` queue."""


_GIB = 1024**3
TIERS: dict[str, Tier] = {
    "free": Tier(
        name="free",
        concurrent_executions=2,
        buffer_bytes=1 * _GIB,
        api_calls_per_minute=120,
        agents=2,
        worker_pool="shared",
    ),
    "pro": Tier(
        name="pro",
        concurrent_executions=10,
        buffer_bytes=50 * _GIB,
        api_calls_per_minute=1_200,
        agents=20,
        worker_pool="pro",
    ),
    "enterprise": Tier(
        name="enterprise",
        concurrent_executions=100,
        buffer_bytes=1024 * _GIB,
        api_calls_per_minute=12_000,
        agents=500,
        worker_pool="enterprise",
    ),
}
"""Every tier by name; ``TIER_NAMES`` lists the same names."""


def tier_named(name: str) -> Tier:
    """The tier called ``name``.

    Raises:
        InvalidInputError: No such tier.
    """
    tier = TIERS.get(name)
    if tier is None:
        raise InvalidInputError(f"tier {name!r} is not one of {', '.join(TIER_NAMES)}", tier=name)
    return tier


def tier_of_record(stored: str) -> Tier:
    """The tier a tenant row names; an unknown value (edited by hand) gets the most limited tier.

    Failing every request of the tenant would be worse than serving it on the free tier's
    quotas; the warning tells the operator to fix the row.
    """
    tier = TIERS.get(stored)
    if tier is None:
        log.warning("tenant row names unknown tier %r; applying the %s tier", stored, DEFAULT_TIER)
        return TIERS[DEFAULT_TIER]
    return tier


def tenants_in_pool(tenant_tiers: Mapping[str, str], pool: str) -> list[str]:
    """The tenants (id -> stored tier name) whose tier maps to worker pool ``pool``, in id order."""
    return sorted(tenant for tenant, tier in tenant_tiers.items() if tier_of_record(tier).worker_pool == pool)
