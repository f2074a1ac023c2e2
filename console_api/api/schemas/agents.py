"""Schemas of agents."""

from __future__ import annotations

from pydantic import BaseModel, Field

from console_api.api.schemas._common import (
    ConnectorId,
    Moment,
    Page,
    Request,
)


class AgentPublic(BaseModel):
    """An enrolled agent and its presence."""

    id: str
    agent_id: str
    group: str
    """The agent group whose queue it serves (its own id when it is in no group)."""
    name: str
    status: str
    online: bool
    state: str
    """``online``, ``offline`` or ``revoked``."""
    endpoints: list[str]
    """Local endpoints (credential names) the agent reported reaching."""
    last_heartbeat: Moment | None
    version: str
    host: str
    queue: str
    revoked_at: Moment | None


class AgentsPublic(Page):
    """The tenant's agents."""

    data: list[AgentPublic]


class EnrollmentTokenCreate(Request):
    """Which agent may enroll with the token, and for how long."""

    agent_id: ConnectorId
    ttl_minutes: int | None = Field(default=None, ge=1, le=1440)
    group_id: ConnectorId | None = None
    """Agent group the agent joins (it then serves the group's queue); default: none."""


class EnrollmentTokenPublic(BaseModel):
    """A one-time enrollment token, shown once."""

    agent_id: str
    group: str
    token: str
    expires_at: Moment
