"""Schemas of the marketplace: catalog entries and the install request."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr

from console_api.api.schemas._common import NAME_PATTERN, ConnectorId, Name, Page, Request

KindName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="A catalog kind")]


class MarketplaceKindPublic(BaseModel):
    """One connector kind of the catalog."""

    kind: str
    title: str
    description: str
    category: Literal["database", "api", "object-store", "trigger"]
    accessibility: Literal["local", "internet", "both"]
    """``local``: reached only by an on-premise agent; ``internet``: only by the cloud; ``both``."""
    installable: bool
    unavailable: str | None
    """Why ``POST /marketplace/{kind}/install`` refuses this kind, when it does."""
    secret_fields: list[str]
    """Fields of ``secret`` that go to the secret store (cloud installs); never returned."""


class MarketplaceKindDetailPublic(MarketplaceKindPublic):
    """A kind with the JSON schemas its install is validated against."""

    config_schema: dict[str, Any]
    secrets_schema: dict[str, Any] | None


class MarketplaceKindsPublic(Page):
    """The whole catalog."""

    data: list[MarketplaceKindPublic]


class MarketplaceInstall(Request):
    """Install a kind into the caller's tenant as a named connection.

    ``config`` is validated against the kind's ``config_schema``. Cloud installs put ``secret``
    (the kind's ``secrets_schema``) in the secret store; local installs name the ``agent`` that
    reaches the endpoint and the ``credential_name`` that agent holds, and carry no secret.
    """

    name: Name
    location: Literal["local", "cloud"]
    agent: ConnectorId | None = None
    credential_name: Name | None = None
    config: dict[Annotated[str, Field(pattern=NAME_PATTERN)], Any] = Field(
        default_factory=dict, max_length=50
    )
    secret: dict[Annotated[str, Field(pattern=NAME_PATTERN)], SecretStr] | None = Field(
        default=None, max_length=20
    )
    write: bool = False
