"""Schemas of schedules: periodic runs of a workflow definition version through Temporal Schedules."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, model_validator

from console_api.api.schemas._common import Moment, Name, Page, Request, Text

MIN_INTERVAL_SECONDS = 60
OverlapPolicy = Literal["skip", "buffer_one", "buffer_all", "cancel_other", "terminate_other", "allow_all"]
_CRON_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_CRON_TZ = re.compile(r"^(?:CRON_TZ|TZ)=\S+\s+")


def _five_field_cron(value: str) -> str:
    """Allow what fires at most once a minute: five fields or a calendar macro.

    Temporal also takes six- and seven-field expressions (with seconds) and ``@every``, which
    would slip under the interval minimum; it validates each field's values itself when the
    schedule is created, and its refusal is reported against this field.
    """
    value = value.strip()
    body = _CRON_TZ.sub("", value, count=1)
    if body.startswith("@every"):
        raise ValueError("use interval_seconds instead of '@every'")
    if body.startswith("@"):
        if body not in _CRON_MACROS:
            raise ValueError(f"unknown macro {body!r}; use one of {', '.join(sorted(_CRON_MACROS))}")
        return value
    if len(body.split()) != 5:
        raise ValueError("must have five fields: minute hour day-of-month month day-of-week")
    return value


Cron = Annotated[
    str,
    Field(min_length=1, max_length=200, examples=["0 2 * * *", "CRON_TZ=Europe/Paris 30 6 * * MON-FRI"]),
    AfterValidator(_five_field_cron),
]


class ScheduleCreate(Request):
    """A schedule for one definition version: an interval, a cron expression, or both.

    The Temporal schedule id (``<tenant>.<name>``), the runs' workflow ids and their task queue
    are derived by the server.
    """

    name: Name
    definition_id: Annotated[str, Field(min_length=1, max_length=36)]
    interval_seconds: Annotated[int | None, Field(ge=MIN_INTERVAL_SECONDS, le=366 * 86_400)] = None
    cron: Cron | None = None
    jitter_seconds: Annotated[int, Field(ge=0, le=86_400)] = 0
    """Each action starts up to this much later, at random (spreads load across tenants)."""
    overlap: OverlapPolicy = "skip"
    """What happens when an action is due while the previous run still runs; ``skip`` drops it."""
    paused: bool = False
    note: Text | None = None

    @model_validator(mode="after")
    def _has_a_spec(self) -> ScheduleCreate:
        if self.interval_seconds is None and self.cron is None:
            raise ValueError("give interval_seconds, cron or both")
        return self


class ScheduleNote(Request):
    """Why a schedule is paused or unpaused; shown in Temporal's schedule state."""

    note: Text | None = None


class ScheduleActionPublic(BaseModel):
    """One run the schedule started."""

    workflow_id: str
    run_id: str
    scheduled_at: Moment
    started_at: Moment


class ScheduleStatePublic(BaseModel):
    """The schedule's live state as Temporal reports it."""

    paused: bool
    note: str | None
    next_action_times: list[Moment]
    recent_actions: list[ScheduleActionPublic]
    running_workflow_ids: list[str]
    num_actions: int


class SchedulePublic(BaseModel):
    """A schedule: what was asked for, and Temporal's state of it."""

    id: str
    name: str
    definition_id: str
    schedule_id: str
    """The Temporal schedule id."""
    workflow_id_prefix: str
    """Runs get this id plus Temporal's ``-<scheduled time>`` suffix."""
    task_queue: str
    interval_seconds: int | None
    cron: str | None
    jitter_seconds: int
    overlap: OverlapPolicy
    created_at: Moment
    state: ScheduleStatePublic | None
    """``None``: Temporal no longer has the schedule (deleted outside the console); DELETE removes the row."""


class SchedulesPublic(Page):
    """The tenant's schedules by name."""

    data: list[SchedulePublic]
