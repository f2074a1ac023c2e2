"""What a call aims at (``CallTarget``), what it returns (``ApiResponse``) and what it leaves (audit).

These are the host's boundary models: the activity layer builds a ``CallTarget`` from the
registration (tenant, API, base URL, accessibility, auth and its secret, writable operations,
limits) and gets an ``ApiResponse`` or a typed error back. The audit event is deliberately poor:
no URL, no headers, no bodies, no secrets, so it can be stored and shown without redaction.
"""

from __future__ import annotations

import threading
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from sdkgen.model import Accessibility, ApiAuth, NoAuth

MiB = 1024 * 1024


class CallLimits(BaseModel):
    """The sandbox and transfer limits of one call; defaults are the platform's."""

    model_config = ConfigDict(frozen=True)

    timeout_s: float = Field(default=30.0, gt=0, le=900)
    """Wall-clock budget of the whole call (guest time plus its HTTP), enforced by epoch interruption."""
    memory_bytes: int = Field(default=256 * MiB, ge=16 * MiB)
    """The guest's linear memory cap; growth past it fails inside the guest."""
    response_bytes: int = Field(default=16 * MiB, ge=1)
    """Largest (decoded) response body; a bigger one is an error, never silently truncated."""
    request_body_bytes: int = Field(default=4 * MiB, ge=0)
    """Largest request body a guest may send."""
    max_requests: int = Field(default=8, ge=1, le=1000)
    """HTTP requests one guest call may make (pagination is driven by the host, one call per page)."""
    max_redirects: int = Field(default=5, ge=0, le=20)
    """Same-origin redirects followed per request; cross-origin ones are refused."""
    rate_per_s: float = Field(default=50.0, gt=0)
    """Per-tenant calls per second (token bucket refill)."""
    burst: int = Field(default=100, ge=1)
    """Per-tenant bucket size: calls allowed at once after a quiet period."""


class CallTarget(BaseModel):
    """One registered API as a call sees it: where it is, who runs the call, how to authenticate.

    ``secret`` is the API key, Basic password, bearer token or OAuth2 client secret, depending on
    ``auth``; it only ever reaches the wire, never the guest, the audit or an error message.
    """

    model_config = ConfigDict(frozen=True)

    tenant: str = Field(min_length=1)
    api: str = Field(min_length=1)
    base_url: str = Field(min_length=1, max_length=2048)
    accessibility: Accessibility = Accessibility.INTERNET
    runs_on: Literal["agent", "cloud"] = "cloud"
    auth: ApiAuth = Field(default_factory=NoAuth)
    secret: SecretStr | None = None
    writable: frozenset[str] = frozenset()
    """Operation ids the user granted write methods for at registration."""
    ca_file: str | None = None
    """A custom CA bundle for a private PKI; verification itself can never be turned off."""
    limits: CallLimits = Field(default_factory=CallLimits)

    @property
    def private_allowed(self) -> bool:
        """Private addresses are reachable only for LOCAL APIs, and only from the tenant's agent."""
        return self.accessibility is Accessibility.LOCAL and self.runs_on == "agent"


class ApiResponse(BaseModel):
    """The result of one operation call (or one page of it).

    Attributes:
        status: The HTTP status the host saw (not what the guest claims).
        headers: Response headers, lower-case names.
        body: The decoded JSON value, or the text when the API answered something else.
        size: Bytes of the (decoded) response body.
    """

    model_config = ConfigDict(frozen=True)

    status: int
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    size: int = 0


Outcome = Literal["ok", "http_error", "denied", "limit", "unreachable", "auth_failed"]


class AuditEvent(BaseModel):
    """One HTTP request the host made (or refused) for a guest: the whole audit record."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    api: str
    operation: str
    """The operation id, or ``oauth2_token`` for token requests."""
    method: str
    status: int
    """0 when no response arrived (refused, unreachable)."""
    bytes: int
    duration_ms: float
    outcome: Outcome


class AuditSink(Protocol):
    """Where audit events go (the platform's audit writer); must not raise."""

    def record(self, event: AuditEvent) -> None:
        """Store one event."""


class ListAuditSink:
    """Keeps events in memory: for tests and for a worker that batches them to the real writer."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []
        self._lock = threading.Lock()

    def record(self, event: AuditEvent) -> None:
        """Append ``event``."""
        with self._lock:
            self.events.append(event)


class NullAuditSink:
    """Drops events (the default when no sink is wired)."""

    def record(self, event: AuditEvent) -> None:
        """Do nothing."""
