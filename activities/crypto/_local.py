"""File-backed keyring: per-tenant data keys wrapped by one master key.

Layout under ``root``::

    <tenant>/keys/<key_id>.json   wrapped data key (AES-GCM, AAD = tenant + key_id)
    <tenant>/current.json         current key id and messages reserved under it
    <tenant>/.lock                flock target serialising reservations across processes

Message counts are reserved in blocks under the lock and persisted before use, so several
processes sharing ``root`` never exceed the cap together; a crash only wastes a partial block.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import json
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from activities.atomic_file import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, write_private_file
from activities.crypto._aead import KEY_BYTES, encode_aad, open_sealed, seal
from activities.crypto._keyring import DEFAULT_MAX_MESSAGES, DataKey, check_key_id, check_tenant
from activities.errors import DecryptionFailedError, InvalidInputError, KeyUnavailableError

_FORMAT = 1
DATAKEY_LABEL = "vsc-datakey-v1"
"""Wrap label of the buffer's data keys (the default keyring purpose)."""
_RESERVE_BLOCK = 1024


@dataclass
class _Lease:
    key: DataKey
    used: int
    limit: int


class LocalKeyring:
    """Keyring for the embedded stack: key files under ``root``, wrapped by ``master_key``.

    Args:
        root: Directory holding the wrapped key files (created 0700).
        master_key: 32-byte key-encryption key, from :func:`load_master_key`.
        max_messages: Messages per data key before rotating to a new one.
        label: Purpose bound into every key wrap; keyrings for different purposes (buffer chunks,
            Temporal payloads) use different labels, so a key file copied from one keyring into
            another does not unwrap.
    """

    def __init__(
        self,
        root: Path,
        master_key: bytes,
        *,
        max_messages: int = DEFAULT_MAX_MESSAGES,
        label: str = DATAKEY_LABEL,
    ) -> None:
        if len(master_key) != KEY_BYTES:
            raise KeyUnavailableError(f"master key must be {KEY_BYTES} bytes, got {len(master_key)}")
        if max_messages < 1:
            raise InvalidInputError("max_messages must be at least 1", max_messages=max_messages)
        self._root = root
        self._master = master_key
        self._label = label
        self._max = max_messages
        self._block = min(_RESERVE_BLOCK, max_messages)
        self._leases: dict[str, _Lease] = {}
        self._cache: dict[tuple[str, str], DataKey] = {}
        self._mutex = threading.Lock()

    def current(self, tenant: str) -> DataKey:
        """Return the tenant's current data key, counting one message and rotating at the cap.

        Raises:
            KeyUnavailableError: The current key file is missing, tampered or wrapped by another master key.
        """
        check_tenant(tenant)
        with self._mutex:
            lease = self._leases.get(tenant)
            if lease is None or lease.used >= lease.limit:
                lease = self._reserve(tenant)
                self._leases[tenant] = lease
            lease.used += 1
            return lease.key

    def get(self, tenant: str, key_id: str) -> DataKey:
        """Return one of the tenant's keys by id; other tenants' keys are never visible.

        Raises:
            KeyUnavailableError: Unknown key id for this tenant, tampered file or wrong master key.
        """
        check_tenant(tenant)
        try:
            check_key_id(key_id)
        except InvalidInputError:
            raise KeyUnavailableError(f"key id {key_id!r} is malformed", tenant=tenant) from None
        with self._mutex:
            return self._load(tenant, key_id)

    def _tenant_dir(self, tenant: str) -> Path:
        return self._root / tenant

    @contextmanager
    def _file_lock(self, tenant: str) -> Iterator[None]:
        directory = self._tenant_dir(tenant)
        directory.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
        fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _reserve(self, tenant: str) -> _Lease:
        with self._file_lock(tenant):
            pointer = self._tenant_dir(tenant) / "current.json"
            state = _read_json(pointer, tenant=tenant) if pointer.exists() else None
            try:
                reserved = 0 if state is None else int(state["reserved"])
                key_id = None if state is None else str(state["key_id"])
            except (KeyError, TypeError, ValueError):
                raise KeyUnavailableError(
                    f"current-key pointer of tenant {tenant!r} is malformed", tenant=tenant
                ) from None
            if key_id is None or reserved >= self._max:
                key = self._create(tenant)
                reserved = 0
            else:
                key = self._load(tenant, key_id)
            limit = min(self._max, reserved + self._block)
            write_private_file(pointer, json.dumps({"key_id": key.key_id, "reserved": limit}).encode())
            return _Lease(key=key, used=reserved, limit=limit)

    def _create(self, tenant: str) -> DataKey:
        key = DataKey(key_id=secrets.token_hex(16), key=secrets.token_bytes(KEY_BYTES))
        nonce, wrapped = seal(self._master, key.key, encode_aad(self._label, tenant, key.key_id))
        record = {
            "format": _FORMAT,
            "tenant": tenant,
            "key_id": key.key_id,
            "created_at": datetime.now(UTC).isoformat(),
            "nonce": base64.b64encode(nonce).decode(),
            "wrapped": base64.b64encode(wrapped).decode(),
        }
        write_private_file(self._key_path(tenant, key.key_id), json.dumps(record).encode())
        self._cache[(tenant, key.key_id)] = key
        return key

    def _key_path(self, tenant: str, key_id: str) -> Path:
        return self._tenant_dir(tenant) / "keys" / f"{key_id}.json"

    def _load(self, tenant: str, key_id: str) -> DataKey:
        cached = self._cache.get((tenant, key_id))
        if cached is not None:
            return cached
        path = self._key_path(tenant, key_id)
        if not path.exists():
            raise KeyUnavailableError(f"tenant {tenant!r} has no data key {key_id!r}", tenant=tenant)
        record = _read_json(path, tenant=tenant)
        try:
            nonce = base64.b64decode(record["nonce"], validate=True)
            wrapped = base64.b64decode(record["wrapped"], validate=True)
            raw = open_sealed(
                self._master, nonce, wrapped, encode_aad(self._label, tenant, key_id), context=str(path.name)
            )
        except (KeyError, TypeError, binascii.Error, DecryptionFailedError):
            raise KeyUnavailableError(
                f"data key {key_id!r} of tenant {tenant!r} cannot be unwrapped "
                "(wrong master key or tampered key file)",
                tenant=tenant,
                key_id=key_id,
            ) from None
        key = DataKey(key_id=key_id, key=raw)
        self._cache[(tenant, key_id)] = key
        return key


def _read_json(path: Path, *, tenant: str) -> dict[str, Any]:
    what = f"key store file {path.name} of tenant {tenant!r}"
    try:
        value = json.loads(path.read_bytes())
    except (OSError, ValueError):
        raise KeyUnavailableError(f"{what} is unreadable", tenant=tenant) from None
    if not isinstance(value, dict):
        raise KeyUnavailableError(f"{what} is malformed", tenant=tenant)
    return value
