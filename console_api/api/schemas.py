"""Request and response models: ``XCreate`` / ``XUpdate`` in, ``XPublic`` / ``XsPublic`` out.

Request models forbid unknown fields, so a body naming ``tenant_id``, ``role`` of another key
or a ``task_queue`` is refused with 422 instead of being silently applied.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from activities.metadata import AuditRecord
from activities.metadata._models import as_utc
from console_api.api.keys import Role
from workflows.routing import RoutePlan
from workflows.sync_types import SyncInput, SyncState

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"
_CONNECTOR = r"^[a-z0-9][a-z0-9_-]{0,62}$"
_SECRETISH = re.compile(r"pass|secret|token|credential|private|apikey|api_key", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _printable(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


Moment = Annotated[datetime, AfterValidator(as_utc)]
"""A timestamp in UTC with its offset (SQLite hands them back naive)."""
Name = Annotated[str, Field(pattern=_NAME, description="1-63 letters, digits, '-' or '_'")]
ConnectorId = Annotated[str, Field(pattern=_CONNECTOR, description="An agent's connector id")]
Text = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_printable)]
ConfigValue = Annotated[str, Field(max_length=1000), AfterValidator(_printable)] | int | bool | None


class Request(BaseModel):
    """Base of request bodies: unknown fields are an error."""

    model_config = ConfigDict(extra="forbid")


class Page(BaseModel):
    """Base of list responses."""

    count: int


# -- tenants -----------------------------------------------------------------------------------


class TenantPublic(BaseModel):
    """The caller's tenant."""

    id: str
    name: str
    tier: str
    paused: bool
    created_at: Moment
    cloud_queue: str


# -- API keys ----------------------------------------------------------------------------------


class ApiKeyCreate(Request):
    """A new key of the caller's tenant."""

    name: Text
    role: Role
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class ApiKeyPublic(BaseModel):
    """A key as listed: never its secret or hash."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    role: Role
    prefix: str
    created_at: Moment
    rotated_at: Moment | None
    expires_at: Moment | None
    revoked_at: Moment | None


class ApiKeyCreated(ApiKeyPublic):
    """A key just created or rotated: ``key`` is shown this once and cannot be retrieved again."""

    key: str


class ApiKeysPublic(Page):
    """The tenant's keys."""

    data: list[ApiKeyPublic]


# -- connections -------------------------------------------------------------------------------

ConnectionKind = Literal["postgresql", "mysql", "mariadb", "sqlite"]


def _no_secrets_in_config(config: dict[str, Any]) -> dict[str, Any]:
    for key in config:
        if _SECRETISH.search(key):
            raise ValueError(
                f"config key {key!r} looks like a secret; put it in `secret` (cloud) "
                "or keep it on the agent (`credential_name`)"
            )
    return config


ConnectionConfig = Annotated[
    dict[Annotated[str, Field(pattern=_NAME)], ConfigValue],
    Field(max_length=50),
    AfterValidator(_no_secrets_in_config),
]
SecretValues = Annotated[
    dict[Annotated[str, Field(pattern=_NAME)], SecretStr], Field(min_length=1, max_length=20)
]


class ConnectionCreate(Request):
    """A named endpoint.

    Cloud connections may carry a ``secret`` (sealed, never returned); local ones name the
    credential their agent holds.
    """

    name: Name
    kind: ConnectionKind
    location: Literal["local", "cloud"]
    agent: ConnectorId | None = None
    config: ConnectionConfig = Field(default_factory=dict)
    secret: SecretValues | None = None
    credential_name: Name | None = None
    write: bool = False

    @model_validator(mode="after")
    def _sides(self) -> ConnectionCreate:
        if self.location == "local":
            if self.agent is None:
                raise ValueError("a local connection needs `agent`, the connector id that reaches it")
            if self.secret is not None:
                raise ValueError("a local connection's secret stays on its agent; give `credential_name`")
        elif self.agent is not None or self.credential_name is not None:
            raise ValueError("`agent` and `credential_name` apply to local connections only")
        return self


class ConnectionUpdate(Request):
    """Changes to a connection; name, kind and location are fixed once created."""

    config: ConnectionConfig | None = None
    secret: SecretValues | None = None
    credential_name: Name | None = None
    write: bool | None = None


class ConnectionPublic(BaseModel):
    """A connection without any secret."""

    id: str
    name: str
    kind: str
    location: str
    agent: str | None
    config: dict[str, Any]
    credential_name: str | None
    has_secret: bool
    write: bool
    created_at: Moment


class ConnectionsPublic(Page):
    """The tenant's connections."""

    data: list[ConnectionPublic]


# -- agents ------------------------------------------------------------------------------------


class AgentPublic(BaseModel):
    """An enrolled agent and its presence."""

    id: str
    agent_id: str
    group: str
    """The agent group whose queue it serves (its own id when it is in no group)."""
    name: str
    status: str
    online: bool
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


# -- workflow definitions ----------------------------------------------------------------------

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


# -- executions --------------------------------------------------------------------------------


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


# -- audit -------------------------------------------------------------------------------------


class AuditEventsPublic(Page):
    """Audit events in seq order."""

    data: list[AuditRecord]
