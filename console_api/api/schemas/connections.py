"""Schemas of connections."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, SecretStr, model_validator

from console_api.api.schemas._common import (
    NAME_PATTERN,
    SECRETISH,
    ConfigValue,
    ConnectorId,
    Moment,
    Name,
    Page,
    Request,
)

ConnectionKind = Literal["postgresql", "mysql", "mariadb", "sqlite"]


def _no_secrets_in_config(config: dict[str, Any]) -> dict[str, Any]:
    for key in config:
        if SECRETISH.search(key):
            raise ValueError(
                f"config key {key!r} looks like a secret; put it in `secret` (cloud) "
                "or keep it on the agent (`credential_name`)"
            )
    return config


ConnectionConfig = Annotated[
    dict[Annotated[str, Field(pattern=NAME_PATTERN)], ConfigValue],
    Field(max_length=50),
    AfterValidator(_no_secrets_in_config),
]
SecretValues = Annotated[
    dict[Annotated[str, Field(pattern=NAME_PATTERN)], SecretStr], Field(min_length=1, max_length=20)
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
