"""Inputs, progress and results of the fan-out (3.4.1) and fan-in (3.4.2) workflows.

Like :mod:`workflows.sync_types`, the workflows take plain JSON and validate it into these
frozen models themselves, so a bad input fails the run with a readable, non-retryable error.
Endpoints name their kind (local or cloud database): that, through :func:`workflows.routing.plan_fan`,
decides which side runs each extract and load.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from workflows.contracts import BatchLimits
from workflows.routing import EndpointKind
from workflows.sync_types import TableSpec
from workflows.types import Fingerprint, Frozen, Identifier

DbKind = Literal[EndpointKind.LOCAL_DB, EndpointKind.CLOUD_DB]


class FanEndpoint(Frozen):
    """A database connection and where it lives (the agent's registry or the cloud's)."""

    connection: str = Field(min_length=1)
    kind: DbKind


class DeliveryRetry(Frozen):
    """How a failing destination load is retried, on its own, before it is reported failed."""

    initial_seconds: float = Field(default=1.0, gt=0)
    maximum_seconds: float = Field(default=60.0, gt=0)
    backoff: float = Field(default=2.0, ge=1.0)
    deadline_seconds: float = Field(default=3600.0, gt=0)
    """From the end of the extract: a destination still failing then is reported ``failed``."""


class FanOutInput(Frozen):
    """One table extracted once and loaded into every destination."""

    agent: str = Field(min_length=1)
    """Connector id of the agent (or agent group) that reaches the local endpoints."""
    source: FanEndpoint
    table: TableSpec
    """The table (its transform, if any, is applied once, in the extract)."""
    destinations: tuple[FanEndpoint, ...] = Field(min_length=1, max_length=20)
    limits: BatchLimits = BatchLimits()
    retry: DeliveryRetry = DeliveryRetry()
    verify: bool = True
    """Fingerprint the source and every destination that completed."""

    @model_validator(mode="after")
    def _distinct(self) -> FanOutInput:
        names = [d.connection for d in self.destinations]
        if len(set(names)) != len(names) or self.source.connection in names:
            raise ValueError("fan-out destinations must be distinct connections, none the source")
        return self


DeliveryState = Literal["pending", "loading", "retrying", "done", "failed"]


class DestinationStatus(Frozen):
    """Where one destination of a fan-out is; the final value is its part of the result."""

    connection: str
    state: DeliveryState = "pending"
    attempts: int = 0
    rows_read: int = 0
    rows_written: int = 0
    fingerprint: Fingerprint | None = None
    error: str | None = None
    """The last failure's message (also while ``retrying``)."""


class FanOutResult(Frozen):
    """Per-destination outcome of a fan-out; also what its ``progress`` query returns mid-run."""

    pattern: str = "3.4.1"
    table: str
    rows_extracted: int = 0
    chunks: int = 0
    source: Fingerprint | None = None
    destinations: tuple[DestinationStatus, ...] = ()

    @property
    def complete(self) -> bool:
        """Every destination loaded (and, when verified, equal to the source)."""
        return all(d.state == "done" for d in self.destinations) and all(
            d.fingerprint == self.source for d in self.destinations
        )


class FanSource(Frozen):
    """One source of a fan-in: a connection and the table (or query) read from it."""

    endpoint: FanEndpoint
    table: Identifier
    query: str | None = Field(default=None, min_length=1, max_length=100_000)


class FanInInput(Frozen):
    """Several sources of the same table merged, deduplicated by key, into one destination."""

    agent: str = Field(min_length=1)
    sources: tuple[FanSource, ...] = Field(min_length=2, max_length=20)
    """In priority order: on a tie the earlier source's row wins."""
    key: tuple[Identifier, ...] = Field(min_length=1)
    """Row identity across sources."""
    version_column: Identifier | None = None
    """The row with the greatest value wins (NULL loses); None: source priority alone decides."""
    destination: FanEndpoint
    destination_table: Identifier
    limits: BatchLimits = BatchLimits()
    verify: bool = True
    """Fingerprint the destination and compare it with the merged rows."""


class SourceCount(Frozen):
    """Rows one fan-in source contributed."""

    connection: str
    rows_read: int
    rows_kept: int


class FanInResult(Frozen):
    """Outcome of a fan-in: what each source gave, what the dedupe dropped, what was loaded."""

    pattern: str = "3.4.2"
    sources: tuple[SourceCount, ...]
    duplicates_dropped: int
    rows_loaded: int
    rows_written: int
    merged: Fingerprint
    """Fingerprint of the merged rows, computed by the merge before the load."""
    destination: Fingerprint | None = None

    @property
    def verified(self) -> bool:
        """The destination holds exactly the merged rows."""
        return self.destination == self.merged
