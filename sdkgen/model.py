"""The models every part of Mode 2 agrees on: an API's operations, its auth and where it may be reached.

The spec loader produces an ``ApiDescription``; the renderer turns it into SDK source; the diff
compares two of them; the console stores the registration (``ApiAuth``, ``Accessibility``) and the
runtime host enforces it. Keeping them in one module is what lets those parts be built and
versioned separately without drifting apart.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods an operation may use without the user marking it writable (RFC 9110 safe methods)."""


class ParamLocation(StrEnum):
    """Where a parameter travels in the request."""

    PATH = "path"
    QUERY = "query"
    HEADER = "header"


class Param(BaseModel):
    """One typed parameter of an operation."""

    model_config = ConfigDict(frozen=True)

    name: str
    """The name on the wire, exactly as the spec gives it."""
    ident: str
    """A safe Python identifier for it, unique within the operation."""
    location: ParamLocation
    required: bool
    json_type: Literal["string", "integer", "number", "boolean", "array", "object", "any"]
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")
    """The resolved JSON schema, bounded in depth (deeper parts become ``{}``)."""
    description: str = ""


class RequestBody(BaseModel):
    """The JSON body an operation takes."""

    model_config = ConfigDict(frozen=True)

    required: bool
    content_type: str = "application/json"
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")


class Operation(BaseModel):
    """One path + method of the API, as the SDK exposes it."""

    model_config = ConfigDict(frozen=True)

    op_id: str
    """A safe Python identifier, unique within the API; the name workflows call."""
    method: str
    """Upper case."""
    path: str
    """The path template, e.g. ``/orders/{order_id}``."""
    summary: str = ""
    params: tuple[Param, ...] = ()
    body: RequestBody | None = None
    response_schema: dict[str, Any] | None = None
    """The JSON schema of the first 2xx JSON response, bounded in depth; None when there is none."""
    read_only: bool
    """True for safe methods; writes need the user's explicit grant at registration."""
    security: tuple[str, ...] = ()
    """Names of the security schemes the operation accepts (empty: none or the API default)."""


class Refusal(BaseModel):
    """An operation of the spec that was not generated, and why."""

    model_config = ConfigDict(frozen=True)

    method: str
    path: str
    reason: str


class ApiDescription(BaseModel):
    """What the pipeline knows of one version of a spec after validation."""

    model_config = ConfigDict(frozen=True)

    title: str
    version: str
    openapi: str
    """The document's OpenAPI version (``3.0.3``, ``3.1.0``, ...)."""
    spec_sha256: str
    """The sha256 of the spec bytes as uploaded or fetched."""
    servers: tuple[str, ...] = ()
    security_schemes: dict[str, dict[str, Any]] = Field(default_factory=dict)
    operations: tuple[Operation, ...] = ()
    refused: tuple[Refusal, ...] = ()

    def operation(self, op_id: str) -> Operation:
        """The operation named ``op_id``.

        Raises:
            KeyError: No such operation.
        """
        for op in self.operations:
            if op.op_id == op_id:
                return op
        raise KeyError(op_id)


class Accessibility(StrEnum):
    """Who can reach the API, which decides who runs its calls."""

    LOCAL = "local"
    """Inside the customer's network only: calls run on the tenant's agent."""
    INTERNET = "internet"
    """On the internet: calls run on the cloud workers."""
    BOTH = "both"
    """Reachable from both; the flow's other endpoint decides."""


class NoAuth(BaseModel):
    """The API needs no credential."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["none"] = "none"


class ApiKeyAuth(BaseModel):
    """An API key in a header or a query parameter; the key itself is the registration's secret."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["api_key"] = "api_key"
    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")
    location: Literal["header", "query"] = "header"


class BasicAuth(BaseModel):
    """HTTP Basic; only over HTTPS or to loopback. The password is the secret."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["basic"] = "basic"
    username: str = Field(min_length=1, max_length=256)


class BearerAuth(BaseModel):
    """A static bearer token or JWT; the token is the secret."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["bearer"] = "bearer"


class OAuth2ClientCredentials(BaseModel):
    """OAuth 2.0 client credentials; the client secret is the secret, tokens are refreshed before expiry."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["oauth2_client_credentials"] = "oauth2_client_credentials"
    token_url: str = Field(min_length=1, max_length=2048)
    client_id: str = Field(min_length=1, max_length=256)
    scopes: tuple[str, ...] = ()


ApiAuth = Annotated[
    NoAuth | ApiKeyAuth | BasicAuth | BearerAuth | OAuth2ClientCredentials, Field(discriminator="kind")
]
"""How the host authenticates to the API; the guest never sees any of it."""


class Pagination(BaseModel):
    """How the host walks the pages of a list operation."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["none", "page", "offset", "cursor", "link"] = "none"
    param: str = ""
    """The query parameter that carries the page number, offset or cursor (unused for ``link``)."""
    size_param: str = ""
    """The query parameter for the page size, if any."""
    size: int = Field(default=100, ge=1, le=10_000)
    items_path: str = ""
    """Dot path to the list of items in the body ('' = the body itself is the list)."""
    cursor_path: str = ""
    """Dot path to the next cursor in the body (``cursor`` only)."""
    max_pages: int = Field(default=10_000, ge=1)
