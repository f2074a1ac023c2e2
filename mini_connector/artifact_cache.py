"""The agent's on-disk cache of SDK artifacts, so a pinned SDK crosses the gateway once.

Content-addressed like the registry (``<root>/<tenant>/<kind>/<sha256>``), written atomically
(a temporary file in the same directory, then ``os.replace``), and checked against its name on
every read: a file altered or truncated on disk is deleted and reported as a miss, so the caller
downloads it again instead of loading it. The cache is bounded in bytes; the least recently read
files go first.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from pathlib import Path

from activities.atomic_file import PRIVATE_DIR_MODE, TMP_PREFIX, write_private_file
from activities.crypto import check_tenant
from activities.errors import InvalidInputError

log = logging.getLogger("vsc.agent")

DEFAULT_CACHE_BYTES = 1 << 30
_KIND = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def check_artifact_name(kind: str, sha256: str) -> None:
    """Refuse a kind or digest that could not be a registry name (and so not a safe file name either).

    Raises:
        InvalidInputError: Malformed kind or digest.
    """
    if not _KIND.match(kind):
        raise InvalidInputError(f"artifact kind {kind[:40]!r} must be lowercase letters, digits or '-'")
    if not _DIGEST.match(sha256):
        raise InvalidInputError("an artifact is named by the 64 hex digits of its sha256")


class ArtifactCache:
    """A bounded, content-addressed directory of artifacts.

    Args:
        root: The cache directory (the agent's ``<home>/artifact-cache``); created 0700.
        max_bytes: Total size kept; an artifact larger than this is not cached at all.
    """

    def __init__(self, root: Path, *, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self._mutex = threading.Lock()

    def path(self, *, tenant: str, kind: str, sha256: str) -> Path:
        """Where an artifact is kept.

        Raises:
            InvalidInputError: Malformed tenant, kind or digest.
        """
        check_artifact_name(kind, sha256)
        return self.root / check_tenant(tenant) / kind / sha256

    def get(self, *, tenant: str, kind: str, sha256: str) -> bytes | None:
        """The cached bytes, or None when absent or no longer matching their hash (then deleted)."""
        path = self.path(tenant=tenant, kind=kind, sha256=sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        if hashlib.sha256(data).hexdigest() != sha256:
            log.warning("cached artifact %s/%s does not match its hash: dropped", kind, sha256[:12])
            path.unlink(missing_ok=True)
            return None
        try:
            os.utime(path)  # recency for eviction
        except FileNotFoundError:
            pass
        return data

    def put(self, *, tenant: str, kind: str, sha256: str, data: bytes) -> None:
        """Keep verified bytes (the caller checked them), then evict down to ``max_bytes``."""
        if len(data) > self.max_bytes:
            return
        path = self.path(tenant=tenant, kind=kind, sha256=sha256)
        self.root.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
        write_private_file(path, data)
        with self._mutex:
            self._evict(keep=path)

    def size(self) -> int:
        """Bytes held now."""
        return sum(size for _, size, _ in self._entries())

    def _entries(self) -> list[tuple[Path, int, int]]:
        entries = []
        for path in self.root.glob("*/*/*"):
            if path.name.startswith(TMP_PREFIX):
                continue
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            entries.append((path, st.st_size, st.st_mtime_ns))
        return entries

    def _evict(self, *, keep: Path) -> None:
        entries = sorted(self._entries(), key=lambda e: e[2])
        total = sum(size for _, size, _ in entries)
        for path, size, _ in entries:
            if total <= self.max_bytes:
                return
            if path == keep:
                continue
            path.unlink(missing_ok=True)
            total -= size
