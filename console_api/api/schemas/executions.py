"""Schemas of executions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from console_api.api.schemas._common import (
    Moment,
    Page,
    Request,
    Text,
)
from workflows.contracts import BatchLimits
from workflows.types import Identifier

SignalName = Literal["pause", "resume", "event"]
"""The only signals the API sends; anything else is refused with 422."""


class ExecutionParams(Request):
    """What one run may change of its definition; everything else is the saved version's."""

    tables: Annotated[list[Identifier], Field(min_length=1, max_length=500)] | None = None
    """Only these of the definition's tables (by ``source_table``), in the definition's order."""
    limits: BatchLimits | None = None
    """Batch size and time budget of each step."""
    verify: bool | None = None
    """Fingerprint both sides at the end (the definition's setting when left out)."""


class ExecutionCreate(Request):
    """Which definition version to run, and its run parameters; workflow id and task queue are derived."""

    definition_id: Annotated[str, Field(min_length=1, max_length=36)]
    params: ExecutionParams | None = None


class ActivityProgress(BaseModel):
    """A pending activity as Temporal reports it: its last heartbeat is the step's progress."""

    activity_type: str
    state: str
    attempt: int
    heartbeat: Any = None
    """The last heartbeat details (e.g. rows read/written and the keyset position)."""
    last_heartbeat_at: Moment | None = None


class ExecutionProgress(BaseModel):
    """Where a run is: its pending activities and, while it runs, its ``progress`` query."""

    activities: list[ActivityProgress]
    state: dict[str, Any] | None = None
    """The workflow's ``progress`` query: a sync's ``SyncState`` (tables done, the current one's counts,
    pauses and events), a fan-out's per-destination states, a bidirectional sync's ``{"stage": ...}``."""


class ExecutionPublic(BaseModel):
    """A run as Temporal reports it."""

    workflow_id: str
    run_id: str | None
    workflow_type: str
    task_queue: str
    status: str
    definition_id: str | None
    started_at: Moment | None
    closed_at: Moment | None
    ui_url: str
    progress: ExecutionProgress | None = None
    """Only when one run is described."""


class ExecutionsPublic(Page):
    """The tenant's runs, newest first."""

    data: list[ExecutionPublic]


class ExecutionTerminate(Request):
    """Why the run is terminated (kept in its history and in the audit trail)."""

    reason: Text


class ExecutionSignal(Request):
    """A signal from the allow-list and its argument (validated against the signal's model)."""

    name: SignalName
    args: dict[str, Any] | None = None
    """``pause`` / ``resume``: optionally ``{"reason": ...}``; ``event``: source, delivery_id, payload."""


class ExecutionSignalled(BaseModel):
    """The signal was delivered to the run."""

    workflow_id: str
    name: SignalName
