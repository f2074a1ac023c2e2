"""The object-store contract the buffer writes through: a directory or an S3 bucket."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class ObjectInfo:
    """One stored object as listed; ``last_modified`` is timezone-aware (UTC)."""

    key: str
    size: int
    last_modified: datetime


class ObjectBackend(Protocol):
    """Minimal blob store; keys are ``/``-separated relative paths."""

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` atomically (readers see old or new, never half)."""
        ...

    def get(self, key: str, *, length: int | None = None) -> bytes:
        """Return the object, or only its first ``length`` bytes.

        Raises:
            BufferNotFoundError: No object under ``key``.
        """
        ...

    def delete(self, key: str) -> None:
        """Remove ``key``; removing a missing key is not an error."""
        ...

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Yield every object whose key starts with ``prefix``."""
        ...
