"""Config and secret models of each connector kind; their JSON schemas are what the marketplace publishes.

Config holds what may be shown (host, port, database, user); secrets hold what may not
(passwords, keys) and go to the secret store. Both forbid unknown fields, so a misspelt key is
a 422 naming it rather than a setting silently ignored.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr

Host = Annotated[
    str,
    Field(
        min_length=1,
        max_length=253,
        pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$|^\[[0-9A-Fa-f:.]+\]$",
        description="DNS name or IP address of the server",
    ),
]
Port = Annotated[int, Field(ge=1, le=65535)]
Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f/\\@:]+$")]


class KindConfig(BaseModel):
    """Base of every kind's config: unknown fields are an error, values are plain JSON."""

    model_config = ConfigDict(extra="forbid")


class KindSecrets(BaseModel):
    """Base of every kind's secret fields."""

    model_config = ConfigDict(extra="forbid")


class PostgresConfig(KindConfig):
    """A PostgreSQL server and database."""

    host: Host
    port: Port = 5432
    database: Identifier
    user: Identifier


class MySqlConfig(KindConfig):
    """A MySQL or MariaDB server and database."""

    host: Host
    port: Port = 3306
    database: Identifier
    user: Identifier


class PasswordSecrets(KindSecrets):
    """The database user's password (absent for servers that authenticate otherwise)."""

    password: SecretStr | None = Field(default=None, max_length=1000)


class SqliteConfig(KindConfig):
    """A SQLite database file on the machine of the agent that reaches it."""

    path: str = Field(
        min_length=2, max_length=1000, pattern=r"^/[^\x00-\x1f\x7f]*$", description="Absolute path"
    )


class RestOpenApiConfig(KindConfig):
    """A REST API described by an OpenAPI 3 document (Mode 2: a generated, sandboxed SDK)."""

    base_url: HttpUrl
    spec_url: HttpUrl | None = None


class ApiKeySecrets(KindSecrets):
    """The API key sent with each call."""

    api_key: SecretStr | None = Field(default=None, max_length=4000)


class S3Config(KindConfig):
    """An S3-compatible bucket."""

    bucket: str = Field(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    region: str = Field(default="us-east-1", max_length=32, pattern=r"^[a-z0-9-]+$")
    endpoint_url: HttpUrl | None = None
    prefix: str = Field(default="", max_length=500)


class S3Secrets(KindSecrets):
    """The access key pair."""

    access_key_id: SecretStr = Field(max_length=200)
    secret_access_key: SecretStr = Field(max_length=200)


class WebhookConfig(KindConfig):
    """An inbound webhook has no connection settings; its signing key is made when it is created."""
