"""Schemas of control flags and the emergency stop."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from console_api.api.schemas._common import NAME_PATTERN, Moment, Page, Request, Text

FlagScopeName = Literal["tenant", "connection", "agent"]


class ControlFlagUpdate(Request):
    """What to pause or resume: the whole tenant, one connection (by name) or one agent / agent group."""

    scope: FlagScopeName
    name: Annotated[str | None, Field(pattern=NAME_PATTERN, description="Connection name or agent id")] = None
    """Required for ``connection`` and ``agent``; must be absent for ``tenant``."""
    reason: Text | None = None

    @model_validator(mode="after")
    def _name_matches_scope(self) -> ControlFlagUpdate:
        if self.scope == "tenant" and self.name is not None:
            raise ValueError("`name` must be absent for the tenant scope")
        if self.scope != "tenant" and self.name is None:
            raise ValueError(f"`name` is required for the {self.scope} scope")
        return self


class ControlFlagPublic(BaseModel):
    """One pause in force."""

    scope: FlagScopeName
    name: str | None
    reason: str
    updated_at: Moment | None


class ControlFlagsPublic(Page):
    """Every pause in force for the tenant."""

    data: list[ControlFlagPublic]


class ControlChangePublic(BaseModel):
    """The flag after a pause or resume, and how many running runs were told."""

    scope: FlagScopeName
    name: str | None
    paused: bool
    changed: bool
    """False when the flag already had this value (the runs are signalled anyway)."""
    signalled: int
    """Running runs of the tenant that were signalled; each decides whether the flag concerns it."""


class EmergencyStopCreate(Request):
    """Stop every running run of the tenant now."""

    reason: Text
    grace_seconds: float = Field(default=10.0, ge=0, le=30)
    """How long cancelled runs get to stop at a batch boundary before they are terminated."""
    pause_tenant: bool = True
    """Also pause the tenant, so schedules and new starts wait until it is resumed."""


class EmergencyStopPublic(BaseModel):
    """What the stop did, run by run."""

    cancelled: list[str]
    """Runs that stopped within the grace period after being cancelled."""
    terminated: list[str]
    """Runs still running after the grace period, terminated with the reason."""
    tenant_paused: bool
