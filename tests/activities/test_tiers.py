"""Tiers: names, quotas, and the worker-pool selection the cloud worker serves by."""

from __future__ import annotations

import pytest

from activities.errors import InvalidInputError
from activities.tiers import TIER_NAMES, TIERS, tenants_in_pool, tier_named, tier_of_record


def test_every_tier_is_named_and_grows_with_the_tier() -> None:
    assert list(TIERS) == list(TIER_NAMES) == ["free", "pro", "enterprise"]
    assert all(TIERS[name].name == name for name in TIER_NAMES)
    free, pro, enterprise = (TIERS[n] for n in TIER_NAMES)
    for quota in ("concurrent_executions", "buffer_bytes", "api_calls_per_minute", "agents"):
        assert getattr(free, quota) < getattr(pro, quota) < getattr(enterprise, quota), quota


def test_tier_named_refuses_unknown() -> None:
    assert tier_named("pro") is TIERS["pro"]
    with pytest.raises(InvalidInputError, match="tier 'gold' is not one of free, pro, enterprise"):
        tier_named("gold")


def test_tier_of_record_falls_back_to_free() -> None:
    assert tier_of_record("enterprise") is TIERS["enterprise"]
    assert tier_of_record("gold") is TIERS["free"]


def test_tenants_in_pool_selects_by_tier() -> None:
    tiers = {"zeta": "pro", "acme": "free", "beta": "pro", "big": "enterprise", "odd": "gold"}
    assert tenants_in_pool(tiers, "pro") == ["beta", "zeta"]
    assert tenants_in_pool(tiers, "shared") == ["acme", "odd"]  # an unknown tier is served as free
    assert tenants_in_pool(tiers, "enterprise") == ["big"]
    assert tenants_in_pool(tiers, "nowhere") == []
