"""The connector catalog: every kind the marketplace lists, where it can run, and how to reach it.

Shared by the console (listing, install-time validation) and the cloud worker (turning a
saved connection into a :class:`ConnectionProfile`), so both read one definition of a kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy.engine import URL

from activities.catalog._configs import (
    ApiKeySecrets,
    MySqlConfig,
    PasswordSecrets,
    PostgresConfig,
    RestOpenApiConfig,
    S3Config,
    S3Secrets,
    SqliteConfig,
    WebhookConfig,
)
from activities.errors import InvalidInputError

Accessibility = Literal["local", "internet", "both"]
Location = Literal["local", "cloud"]
Category = Literal["database", "api", "object-store", "trigger"]


@dataclass(frozen=True)
class ConnectorKind:
    """One entry of the catalog.

    Attributes:
        kind: Catalog name, also the ``kind`` of the connections an install creates.
        accessibility: ``local``: only an on-premise agent reaches it; ``internet``: only the
            cloud workers; ``both``: either.
        unavailable: Why an install is refused (not runnable yet, or installed elsewhere);
            ``None`` when installable.
    """

    kind: str
    title: str
    description: str
    category: Category
    accessibility: Accessibility
    config_model: type[BaseModel]
    secrets_model: type[BaseModel] | None
    unavailable: str | None = None

    def allows(self, location: Location) -> bool:
        """Whether a connection of this kind may be placed at ``location``."""
        if location == "local":
            return self.accessibility in ("local", "both")
        return self.accessibility in ("internet", "both")

    @property
    def secret_fields(self) -> list[str]:
        """Names of the fields that go to the secret store."""
        return list(self.secrets_model.model_fields) if self.secrets_model else []


CATALOG: tuple[ConnectorKind, ...] = (
    ConnectorKind(
        kind="postgresql",
        title="PostgreSQL",
        description="A PostgreSQL database: on premise through an agent, or in the cloud.",
        category="database",
        accessibility="both",
        config_model=PostgresConfig,
        secrets_model=PasswordSecrets,
    ),
    ConnectorKind(
        kind="mysql",
        title="MySQL",
        description="A MySQL database: on premise through an agent, or in the cloud.",
        category="database",
        accessibility="both",
        config_model=MySqlConfig,
        secrets_model=PasswordSecrets,
    ),
    ConnectorKind(
        kind="mariadb",
        title="MariaDB",
        description="A MariaDB database (the MySQL connector): on premise or in the cloud.",
        category="database",
        accessibility="both",
        config_model=MySqlConfig,
        secrets_model=PasswordSecrets,
    ),
    ConnectorKind(
        kind="sqlite",
        title="SQLite",
        description="A SQLite file on the agent's machine.",
        category="database",
        accessibility="local",
        config_model=SqliteConfig,
        secrets_model=None,
    ),
    ConnectorKind(
        kind="rest-openapi",
        title="REST API (OpenAPI)",
        description="A REST API described by an OpenAPI 3 document, called through a generated SDK.",
        category="api",
        accessibility="both",
        config_model=RestOpenApiConfig,
        secrets_model=ApiKeySecrets,
        unavailable=(
            "a REST API is registered with its OpenAPI document, not installed as a connection: "
            "POST /apis (`vsc api add`)"
        ),
    ),
    ConnectorKind(
        kind="s3",
        title="Amazon S3 (or compatible)",
        description="Objects in an S3 bucket.",
        category="object-store",
        accessibility="internet",
        config_model=S3Config,
        secrets_model=S3Secrets,
        unavailable="not runnable yet: no workflow reads or writes S3 objects as a source or destination",
    ),
    ConnectorKind(
        kind="webhook",
        title="Inbound webhook",
        description="Starts or signals a workflow definition when a signed HTTP request arrives.",
        category="trigger",
        accessibility="internet",
        config_model=WebhookConfig,
        secrets_model=None,
        unavailable="a webhook is a trigger, not a connection: create it with POST /webhooks",
    ),
)
KINDS: dict[str, ConnectorKind] = {k.kind: k for k in CATALOG}
_DRIVERS = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql", "mariadb": "mysql+pymysql"}


def _validated(model: type[BaseModel], values: Mapping[str, Any], *, what: str, connection: str) -> Any:
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or what}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise InvalidInputError(
            f"connection {connection!r} has an invalid {what}: {problems}", connection=connection
        ) from None


def profile_url(*, kind: str, config: Mapping[str, Any], secrets: Mapping[str, str], connection: str) -> str:
    """The SQLAlchemy URL of a saved database connection, with its password from the secret store.

    Raises:
        InvalidInputError: The kind is not a database, or its config does not fit the kind's schema
            (the message names fields, never values).
    """
    entry = KINDS.get(kind)
    if entry is None or entry.category != "database":
        raise InvalidInputError(
            f"connection {connection!r} is of kind {kind!r}, not a database", connection=connection
        )
    cfg = _validated(entry.config_model, config, what="config", connection=connection)
    if isinstance(cfg, SqliteConfig):
        return f"sqlite:///{cfg.path}"
    secret = _validated(PasswordSecrets, secrets, what="secret", connection=connection)
    assert isinstance(cfg, PostgresConfig | MySqlConfig)
    url = URL.create(
        _DRIVERS[kind],
        username=cfg.user,
        password=secret.password.get_secret_value() if secret.password else None,
        host=cfg.host,
        port=cfg.port,
        database=cfg.database,
    )
    return url.render_as_string(hide_password=False)
