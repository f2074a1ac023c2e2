"""The artifact registry: immutable, content-addressed objects of a tenant.

An artifact's name is the sha256 of its bytes, so it can never change under the same name:
workflow definitions today, and the OpenAPI specs, rendered SDK sources and compiled
components of Mode 2. Objects live in an object store (a directory or S3) under
``<tenant>/<kind>/<sha256>``; every read is checked against its name.
"""

from __future__ import annotations

import hashlib
import re

from pydantic import BaseModel, ConfigDict

from activities.buffer import ObjectBackend
from activities.errors import (
    ArtifactIntegrityError,
    ArtifactNotFoundError,
    BufferNotFoundError,
    InvalidInputError,
)
from activities.metadata import validate_tenant_id

_KIND = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class ArtifactRef(BaseModel):
    """Where an artifact is: its kind, its sha256 and its size."""

    model_config = ConfigDict(frozen=True)

    kind: str
    sha256: str
    size: int


def _key(tenant: str, kind: str, digest: str) -> str:
    validate_tenant_id(tenant)
    if not _KIND.match(kind):
        raise InvalidInputError(f"artifact kind {kind!r} must be lowercase letters, digits or '-'")
    if not _DIGEST.match(digest):
        raise InvalidInputError("an artifact is named by the 64 hex digits of its sha256")
    return f"{tenant}/{kind}/{digest}"


class ArtifactRegistry:
    """Put and get artifacts of any tenant; callers pass the tenant they act for.

    Args:
        backend: The object store (never the buffer's: artifacts do not expire).
    """

    def __init__(self, *, backend: ObjectBackend) -> None:
        self._backend = backend

    def put(self, *, tenant: str, kind: str, data: bytes) -> ArtifactRef:
        """Store ``data`` under its sha256; storing the same bytes again is a no-op.

        Raises:
            InvalidInputError: The tenant id or kind is malformed.
        """
        digest = hashlib.sha256(data).hexdigest()
        if not self.exists(tenant=tenant, kind=kind, sha256=digest):
            self._backend.put(_key(tenant, kind, digest), data)
        return ArtifactRef(kind=kind, sha256=digest, size=len(data))

    def get(self, *, tenant: str, kind: str, sha256: str) -> bytes:
        """The bytes of an artifact, checked against its name.

        Raises:
            ArtifactNotFoundError: No such artifact for this tenant.
            ArtifactIntegrityError: The stored bytes no longer hash to the name (altered at rest).
        """
        try:
            data = self._backend.get(_key(tenant, kind, sha256))
        except BufferNotFoundError:
            raise ArtifactNotFoundError(
                f"tenant {tenant!r} has no artifact {kind}/{sha256[:12]}", tenant=tenant
            ) from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ArtifactIntegrityError(
                f"artifact {kind}/{sha256[:12]} of tenant {tenant!r} was altered at rest", tenant=tenant
            )
        return data

    def exists(self, *, tenant: str, kind: str, sha256: str) -> bool:
        """Whether the artifact is stored (without reading it)."""
        key = _key(tenant, kind, sha256)
        return any(info.key == key for info in self._backend.list(key))
