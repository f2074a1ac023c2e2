"""Reconnect delays: exponential backoff with full jitter.

Full jitter spreads a fleet of agents that lost the gateway at the same moment over the whole
window, so they do not all come back in one thundering herd.
"""

from __future__ import annotations

import random

from pydantic import BaseModel, Field


class Backoff(BaseModel):
    """Reconnect delay policy: attempt ``n`` waits uniformly in ``[0, min(cap, base * 2**n)]``."""

    base_seconds: float = Field(default=0.5, gt=0)
    cap_seconds: float = Field(default=30.0, gt=0)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before reconnect attempt ``attempt`` (0 for the first retry)."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** min(attempt, 62))
        return (rng or random).uniform(0, ceiling)
