"""The seam every secret store implements: put, get and delete under an opaque reference."""

from __future__ import annotations

from typing import Protocol

from activities.metadata import TenantSession


class SecretStore(Protocol):
    """Stores secret values (connection passwords, webhook keys) under an opaque reference.

    Every call takes the caller's tenant session: it names the tenant whose secrets are meant,
    and a store either writes into that transaction or follows its outcome, so a secret never
    outlives a rolled-back row (see :mod:`activities.secrets._outcome`).
    """

    def put(self, session: TenantSession, values: dict[str, str]) -> str:
        """Store ``values`` for the session's tenant and return the reference to keep on the row."""
        ...

    def get(self, session: TenantSession, ref: str) -> dict[str, str]:
        """Return the values stored under ``ref`` (for workers and signature checks; never for responses)."""
        ...

    def delete(self, session: TenantSession, ref: str) -> None:
        """Forget ``ref`` once the session commits; a missing reference is not an error."""
        ...
