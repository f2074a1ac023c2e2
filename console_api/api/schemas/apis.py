"""Schemas of registered custom APIs (Mode 2), their SDK versions and the diffs between them."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, Field, SecretStr, model_validator

from console_api.api.schemas._common import ConnectorId, Moment, Name, Page, Request
from sdkgen.diff import ApiChange
from sdkgen.model import Accessibility, ApiAuth, BasicAuth, NoAuth

MAX_SPEC_CHARS = 1_000_000
"""An inline spec rides in the request body, which the API caps at ``max_body_bytes``."""


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials (user@host); give them as `auth` and `secret`")
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


HttpUrl = Annotated[str, Field(min_length=8, max_length=2048), AfterValidator(_http_url)]
OpId = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$", description="An operation id")]
ApiVersionNumber = Annotated[int, Field(ge=1, le=1_000_000)]


class ApiCreate(Request):
    """A custom API to register: where it is, its OpenAPI document, how to authenticate, who reaches it.

    Exactly one of ``spec`` (the document as JSON or YAML text) and ``spec_url`` is given. The
    ``secret`` (API key, password, token or client secret, as ``auth`` says) goes to the secret
    store and is never returned. Operations are read-only unless listed in ``writable_operations``.
    """

    name: Name
    base_url: HttpUrl
    spec: Annotated[str, Field(min_length=1, max_length=MAX_SPEC_CHARS)] | None = None
    spec_url: HttpUrl | None = None
    auth: ApiAuth = Field(default_factory=NoAuth)
    secret: Annotated[SecretStr, Field(min_length=1, max_length=4096)] | None = None
    accessibility: Accessibility = Accessibility.INTERNET
    agent: ConnectorId | None = None
    """Local APIs: the agent (or agent group) inside the customer network that reaches the API."""
    agent_credential: Name | None = None
    """Local APIs: the name the agent's vault keeps the API's secret under (default: the API's name).

    The agent calls a local API with the secret from its own vault, so a local API's ``secret``
    is refused here (credentials never leave the premises); flows started by the console name this
    credential in their binding.
    """
    writable_operations: Annotated[list[OpId], Field(max_length=500)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> ApiCreate:
        if (self.spec is None) == (self.spec_url is None):
            raise ValueError("give exactly one of `spec` (the document) and `spec_url`")
        if isinstance(self.auth, NoAuth) and self.secret is not None:
            raise ValueError("`secret` needs an `auth` that uses it (api_key, basic, bearer, oauth2)")
        agent_holds_it = self.accessibility == Accessibility.LOCAL  # the agent's vault has the secret
        if agent_holds_it and self.secret is not None:
            raise ValueError(
                "a local API's secret stays on premises: leave `secret` out and add it to the agent's "
                "vault (`vsc-agent credentials add-api <agent_credential>`)"
            )
        if not isinstance(self.auth, NoAuth) and self.secret is None and not agent_holds_it:
            raise ValueError(f"auth {self.auth.kind!r} needs its `secret`")
        if isinstance(self.auth, BasicAuth):
            parts = urlsplit(self.base_url)
            if parts.scheme != "https" and not _is_loopback(parts.hostname or ""):
                raise ValueError("HTTP Basic is allowed only over https:// or to a loopback address")
        if self.accessibility == Accessibility.LOCAL and self.agent is None:
            raise ValueError("a local API needs `agent`, the connector id that reaches it")
        if self.accessibility == Accessibility.INTERNET and self.agent is not None:
            raise ValueError("`agent` applies to local (or both) APIs only")
        if self.accessibility == Accessibility.INTERNET and self.agent_credential is not None:
            raise ValueError("`agent_credential` applies to local (or both) APIs only")
        return self


class ApiRefresh(Request):
    """A new spec for an API (or none: re-fetch its ``spec_url``).

    A changed spec always becomes a new version; a breaking one becomes current only with
    ``accept_breaking`` (saved definitions keep the version they pin either way).
    """

    spec: Annotated[str, Field(min_length=1, max_length=MAX_SPEC_CHARS)] | None = None
    accept_breaking: bool = False


class OperationPublic(BaseModel):
    """One operation of an SDK version, as workflows call it."""

    op_id: str
    method: str
    path: str
    summary: str
    read_only: bool
    writable: bool
    """Granted write at registration (non-safe methods are refused by the host otherwise)."""


class RefusalPublic(BaseModel):
    """An operation of the spec that has no SDK function, and why."""

    method: str
    path: str
    reason: str


class ApiVersionSummary(BaseModel):
    """One SDK version in an API's history."""

    version: int
    spec_sha256: str
    operations_count: int
    refused_count: int
    breaking: bool
    """Breaking for callers of the version that was current when it was published."""
    current: bool
    created_at: Moment


class ApiVersionPublic(ApiVersionSummary):
    """One SDK version with its operations, refusals and artifacts."""

    api: str
    title: str
    spec_version: str
    openapi: str
    operations: list[OperationPublic]
    refused: list[RefusalPublic]
    artifacts: dict[str, Any]
    """Content addresses of the spec, SDK source, component and precompiled copies."""


class ApiPublic(BaseModel):
    """A registered API without its secret."""

    id: str
    name: str
    base_url: str
    spec_url: str | None
    auth: ApiAuth
    has_secret: bool
    accessibility: Accessibility
    agent: str | None
    agent_credential: str | None
    """Local APIs: the agent-vault name of the secret the agent calls it with."""
    writable_operations: list[str]
    current_version: int
    latest_version: int
    operations_count: int
    """Of the current version."""
    refused_count: int
    created_at: Moment
    updated_at: Moment


class ApiDetailPublic(ApiPublic):
    """An API with its version history and the operations of its current version."""

    versions: list[ApiVersionSummary]
    operations: list[OperationPublic]


class ApisPublic(Page):
    """The tenant's APIs by name."""

    data: list[ApiPublic]


class AffectedDefinition(BaseModel):
    """A saved workflow definition version that calls the API, and the SDK version it pins."""

    id: str
    name: str
    version: int
    api_version: int | None
    """``None``: it follows the API's current version."""


class ApiDiffPublic(BaseModel):
    """What changed between two SDK versions, breaking changes first, and who is affected."""

    api: str
    from_version: int
    to_version: int
    breaking: bool
    changes: list[ApiChange]
    report: str
    affected_definitions: list[AffectedDefinition]


class ApiRefreshPublic(BaseModel):
    """The outcome of a refresh.

    ``unchanged``: same spec, no new version. ``published``: a new current version.
    ``held``: a new, breaking version that did not become current (send ``accept_breaking``).
    ``accepted``: a held version became current.
    """

    status: Literal["unchanged", "published", "held", "accepted"]
    api: ApiPublic
    version: int
    """The version the refresh is about: the new one, or the latest when unchanged."""
    diff: ApiDiffPublic | None = None
