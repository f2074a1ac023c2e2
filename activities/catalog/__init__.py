"""The connector catalog (the marketplace's kinds) and the config and secret models of each kind."""

from activities.catalog._configs import (
    ApiKeySecrets,
    KindConfig,
    KindSecrets,
    MySqlConfig,
    PasswordSecrets,
    PostgresConfig,
    RestOpenApiConfig,
    S3Config,
    S3Secrets,
    SqliteConfig,
    WebhookConfig,
)
from activities.catalog._kinds import (
    CATALOG,
    KINDS,
    Accessibility,
    Category,
    ConnectorKind,
    Location,
    profile_url,
)

__all__ = [
    # The catalog
    "CATALOG",
    "KINDS",
    "ConnectorKind",
    "Accessibility",
    "Category",
    "Location",
    "profile_url",
    # Config and secret models
    "KindConfig",
    "KindSecrets",
    "PostgresConfig",
    "MySqlConfig",
    "PasswordSecrets",
    "SqliteConfig",
    "RestOpenApiConfig",
    "ApiKeySecrets",
    "S3Config",
    "S3Secrets",
    "WebhookConfig",
]
