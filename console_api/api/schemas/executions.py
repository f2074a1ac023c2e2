"""Schemas of executions."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from console_api.api.schemas._common import (
    Moment,
    Page,
    Request,
)


class ExecutionCreate(Request):
    """Which definition version to run; workflow id and task queue are derived by the server."""

    definition_id: Annotated[str, Field(min_length=1, max_length=36)]


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


class ExecutionsPublic(Page):
    """The tenant's runs, newest first."""

    data: list[ExecutionPublic]
