"""Schemas of the conflicts bidirectional syncs parked (pattern 3.4.3, manual policy)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from console_api.api.schemas._common import Moment, Page, Request

ConflictStatusName = Literal["open", "resolved", "applied"]


class ConflictPublic(BaseModel):
    """One key both sides changed differently; it holds change values, never row content."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    pipeline: str
    row_key: str
    """The primary-key values as JSON, in key-column order."""
    left_table: str
    right_table: str
    left_version: str
    right_version: str
    """Each side's change-column value when the conflict was parked."""
    status: ConflictStatusName
    winner: Literal["left", "right"] | None
    workflow_id: str
    created_at: Moment
    resolved_at: Moment | None
    applied_at: Moment | None


class ConflictsPublic(Page):
    """Conflicts, oldest first."""

    data: list[ConflictPublic]


class ConflictResolve(Request):
    """The side whose row wins; the pipeline's next run writes it to the other side."""

    winner: Literal["left", "right"]
