"""Where ``call_api`` gets pinned SDK artifacts and secrets from: protocols and the agent-safe sources.

Nothing here needs a cloud-only package, so the agent imports it: a hash-checked reader of
artifacts in the registry's layout and a by-name secret lookup (the agent's vault contents).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Protocol

from pydantic import SecretStr

from activities.buffer import ObjectBackend
from activities.crypto import check_tenant as check_tenant_id
from activities.errors import (
    ArtifactIntegrityError,
    ArtifactNotFoundError,
    BufferNotFoundError,
    ConnectionNotFoundError,
)


class ArtifactSource(Protocol):
    """Fetches a tenant's artifact by content hash, checked against it (registry, or the gateway)."""

    def get(self, *, tenant: str, kind: str, sha256: str) -> bytes:
        """The artifact's bytes; raises ArtifactNotFoundError / ArtifactIntegrityError."""
        ...


class SecretSource(Protocol):
    """Resolves a credential reference to the secret it names (vault name or secret-store ref)."""

    def secret(self, *, tenant: str, credential: str) -> SecretStr:
        """The secret; raises ConnectionNotFoundError when there is none."""
        ...


class MappingSecrets:
    """Secrets by name from a mapping: the agent's vault contents, or a development registry."""

    def __init__(self, values: Callable[[], Mapping[str, SecretStr]]) -> None:
        self._values = values

    def secret(self, *, tenant: str, credential: str) -> SecretStr:
        """The secret called ``credential`` (the agent serves one tenant, so ``tenant`` is not a key).

        Raises:
            ConnectionNotFoundError: No such secret.
        """
        found = self._values().get(credential)
        if found is None:
            raise ConnectionNotFoundError(f"no API secret named {credential!r} here", connection=credential)
        return found


class BackendArtifacts:
    """Artifacts read straight from an object store in the registry's layout, each checked against its hash.

    The agent's reader: it needs no metadata store (``ArtifactRegistry`` validates tenant ids
    with it), only the bytes and their sha256.
    """

    def __init__(self, backend: ObjectBackend) -> None:
        self._backend = backend

    def get(self, *, tenant: str, kind: str, sha256: str) -> bytes:
        """The artifact's bytes.

        Raises:
            ArtifactNotFoundError: Not stored.
            ArtifactIntegrityError: The bytes do not hash to ``sha256``.
        """
        try:
            data = self._backend.get(f"{check_tenant_id(tenant)}/{kind}/{sha256}")
        except BufferNotFoundError:
            raise ArtifactNotFoundError(f"no artifact {kind}/{sha256[:12]}", tenant=tenant) from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ArtifactIntegrityError(
                f"artifact {kind}/{sha256[:12]} does not match its hash", tenant=tenant
            )
        return data
