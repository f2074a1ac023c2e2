"""The keyring contract: per-tenant data keys for envelope encryption.

``LocalKeyring`` implements it with files wrapped by a master key. A Vault Transit keyring
(data keys from ``transit/datakey``, unwrapped with ``transit/decrypt`` and the tenant as the
derivation context) is the intended production implementation of the same protocol.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from activities.errors import InvalidInputError

DEFAULT_MAX_MESSAGES = 2**31
"""Messages one data key may seal before rotation; well under the 2**32 random-nonce bound."""

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_KEY_ID = re.compile(r"^[0-9a-f]{32}$")


def check_tenant(tenant: str) -> str:
    """Return ``tenant`` if it is a valid tenant id (also a safe path component).

    Raises:
        InvalidInputError: The id could escape its namespace (``/``, ``..``) or is malformed.
    """
    if not _NAME.match(tenant):
        raise InvalidInputError(f"tenant {tenant!r} is not a valid tenant id", tenant=tenant)
    return tenant


def check_key_id(key_id: str) -> str:
    """Return ``key_id`` if it has the shape keyrings issue (32 lowercase hex digits).

    Raises:
        InvalidInputError: The id is malformed.
    """
    if not _KEY_ID.match(key_id):
        raise InvalidInputError(f"key id {key_id!r} is malformed", key_id=key_id)
    return key_id


@dataclass(frozen=True)
class DataKey:
    """One tenant data key in plaintext form; lives in memory only."""

    key_id: str
    key: bytes = field(repr=False)


class Keyring(Protocol):
    """Source of per-tenant data keys; the seam where Vault Transit plugs in."""

    def current(self, tenant: str) -> DataKey:
        """Return the key to seal one message under; each call counts one message.

        Raises:
            KeyUnavailableError: The key store cannot produce a trustworthy key.
        """
        ...

    def get(self, tenant: str, key_id: str) -> DataKey:
        """Return a tenant's key by id, to open messages sealed under it (also after rotation).

        Raises:
            KeyUnavailableError: Unknown to this tenant, tampered, or the master key is wrong.
        """
        ...
