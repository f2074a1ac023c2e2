"""Directory-backed object store for the embedded stack (``make demo``, tests)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from activities.atomic_file import TMP_PREFIX, write_private_file
from activities.buffer._backend import ObjectInfo
from activities.errors import BufferNotFoundError, InvalidInputError, ObjectStoreUnavailableError, VscError

_EXC_MAP: dict[type[OSError], type[VscError]] = {
    FileNotFoundError: BufferNotFoundError,
    NotADirectoryError: BufferNotFoundError,
    OSError: ObjectStoreUnavailableError,
}


@contextmanager
def _map_os_errors(key: str) -> Iterator[None]:
    """Translate filesystem errors on ``key`` into the buffer's error tree."""
    try:
        yield
    except OSError as exc:
        target = next(v for k, v in _EXC_MAP.items() if isinstance(exc, k))
        raise target(f"buffer object {key!r}: {exc.strerror or type(exc).__name__}", key=key) from None


class DirectoryBackend:
    """Objects as files under ``root``: written tmp+rename with mode 0600.

    Args:
        root: Directory that holds every object; created 0700 on first write.
    """

    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, key: str, *, allow_tmp: bool = False) -> Path:
        parts = PurePosixPath(key).parts
        unsafe = any(p in ("..", ".") or (p.startswith(TMP_PREFIX) and not allow_tmp) for p in parts)
        if not parts or key.startswith("/") or unsafe:
            raise InvalidInputError(f"object key {key!r} is not a plain relative path", key=key)
        return self._root.joinpath(*parts)

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` atomically (tmp file + rename)."""
        path = self._path(key)
        with _map_os_errors(key):
            write_private_file(path, data)

    def get(self, key: str, *, length: int | None = None) -> bytes:
        """Return the object's bytes, or its first ``length`` bytes.

        Raises:
            BufferNotFoundError: No object under ``key``.
        """
        path = self._path(key, allow_tmp=True)
        with _map_os_errors(key), path.open("rb") as handle:
            return handle.read() if length is None else handle.read(length)

    def delete(self, key: str) -> None:
        """Remove ``key`` if present (also a listed temporary file)."""
        path = self._path(key, allow_tmp=True)
        with _map_os_errors(key):
            path.unlink(missing_ok=True)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Yield objects whose key starts with ``prefix``, including temporary files.

        A temporary file is normally renamed within milliseconds; one that stays was left by a
        writer killed mid-write. Listing it lets ``purge_run`` and the sweeper (which finds no
        valid header in it and goes by age) remove it, instead of leaking it forever.
        """
        if not self._root.exists():
            return
        for dirpath, _dirs, files in os.walk(self._root):
            for name in sorted(files):
                path = Path(dirpath) / name
                key = path.relative_to(self._root).as_posix()
                if not key.startswith(prefix):
                    continue
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue  # deleted by a concurrent sweep between walk and stat
                yield ObjectInfo(
                    key=key, size=stat.st_size, last_modified=datetime.fromtimestamp(stat.st_mtime, UTC)
                )
