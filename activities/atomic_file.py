"""Owner-only files written atomically, for key files and directory-backed buffer objects.

A reader must never see half a key file or half a chunk: writers go to a temporary file in the
same directory and ``os.replace`` it into place, which is atomic on POSIX filesystems.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
TMP_PREFIX = ".tmp-"


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600, replacing any previous file atomically.

    Args:
        path: Destination file; missing parent directories are created with mode 0700.
        data: The full new content.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    tmp = path.with_name(f"{TMP_PREFIX}{secrets.token_hex(8)}-{path.name}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
