"""Schemas of workflow definitions."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, field_validator

from console_api.api.schemas._common import (
    Moment,
    Name,
    Page,
    Request,
)
from workflows.routing import RoutePlan
from workflows.sync_types import SyncInput, SyncState

Pattern = Literal["3.1.1", "3.3.1", "3.3.2"]


class WorkflowDefinitionCreate(Request):
    """A new version of a named definition: a pattern and its sync input (tenant and queues are derived)."""

    name: Name
    pattern: Pattern
    input: SyncInput

    @field_validator("input")
    @classmethod
    def _no_state(cls, value: SyncInput) -> SyncInput:
        if value.state != SyncState():
            raise ValueError("`state` is kept by the workflow itself and cannot be set in a definition")
        return value


class WorkflowDefinitionPublic(BaseModel):
    """One immutable version of a definition and the plan it was validated against."""

    id: str
    name: str
    version: int
    pattern: str
    input: dict[str, Any]
    content_hash: str
    plan: RoutePlan
    created_at: Moment


class WorkflowDefinitionsPublic(Page):
    """Definition versions, newest first."""

    data: list[WorkflowDefinitionPublic]
