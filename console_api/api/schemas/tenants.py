"""Schemas of tenants."""

from __future__ import annotations

from pydantic import BaseModel

from console_api.api.schemas._common import (
    Moment,
)


class TenantPublic(BaseModel):
    """The caller's tenant."""

    id: str
    name: str
    tier: str
    paused: bool
    created_at: Moment
    cloud_queue: str
