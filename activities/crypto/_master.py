"""Loading the master (key-encryption) key for :class:`LocalKeyring`."""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

from activities.atomic_file import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE
from activities.crypto._aead import KEY_BYTES
from activities.errors import KeyUnavailableError


def _decode(value: str, *, source: str) -> bytes:
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyUnavailableError(f"master key from {source} is not valid base64", source=source) from None
    if len(raw) != KEY_BYTES:
        raise KeyUnavailableError(
            f"master key from {source} must decode to {KEY_BYTES} bytes, got {len(raw)}", source=source
        )
    return raw


def load_master_key(*, env_value: str | None, keyfile: Path, create_missing: bool = True) -> bytes:
    """Return the 32-byte master key from the environment, else from (or into) a keyfile.

    The environment wins so production can inject the key without a file on disk; the keyfile
    is created (0600, exclusive create so two processes cannot race two keys) only for dev.

    Args:
        env_value: Base64 key from the environment (e.g. ``VSC_MASTER_KEY``), or None.
        keyfile: Path of the base64 keyfile.
        create_missing: Create a random keyfile if none exists; turn off outside dev.

    Returns:
        The raw master key.

    Raises:
        KeyUnavailableError: The value is malformed, or there is no key and creation is off.
    """
    if env_value:
        return _decode(env_value, source="environment")
    source = f"keyfile {keyfile.name}"
    if not keyfile.exists():
        if not create_missing:
            raise KeyUnavailableError(f"no master key: {source} does not exist", source=source)
        keyfile.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
        try:
            fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        except FileExistsError:
            return _decode(keyfile.read_text(), source=source)
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode() + "\n")
    return _decode(keyfile.read_text(), source=source)
