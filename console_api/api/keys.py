"""API keys: format, generation and the keyed hash stored at rest.

A key reads ``vsk.<tenant>.<prefix>.<secret>``. The tenant and prefix are public and locate the
row; the secret is 256 random bits. Only HMAC-SHA256(pepper, key) is stored: the keys are
high-entropy, so a slow password hash (argon2) would add latency to every request without
making guessing any harder, and the server-side pepper means a copy of the table alone cannot
even test a guess.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from enum import StrEnum

from pydantic import BaseModel

KEY_SCHEME = "vsk"
_KEY = re.compile(r"^vsk\.([a-z0-9][a-z0-9_-]{0,62})\.([0-9a-f]{12})\.([A-Za-z0-9_-]{43})$")


class Role(StrEnum):
    """What a key may do: viewers read, operators also run and configure flows, admins manage access."""

    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        """Higher ranks include every right of lower ones."""
        return {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}[self]


class ParsedKey(BaseModel):
    """The parts of a presented key."""

    tenant: str
    prefix: str
    key: str


class NewKey(BaseModel):
    """A freshly generated key: ``key`` is shown once, ``key_hash`` is what is stored."""

    prefix: str
    key: str
    key_hash: str


def parse_key(presented: str) -> ParsedKey | None:
    """Split a presented key into tenant and prefix; None when it is not shaped like one of ours."""
    match = _KEY.match(presented)
    if match is None:
        return None
    return ParsedKey(tenant=match.group(1), prefix=match.group(2), key=presented)


def hash_key(key: str, *, pepper: bytes) -> str:
    """The stored form of ``key``."""
    return hmac.new(pepper, key.encode(), hashlib.sha256).hexdigest()


def key_matches(key: str, stored_hash: str, *, pepper: bytes) -> bool:
    """Constant-time comparison of a presented key with a stored hash."""
    return hmac.compare_digest(hash_key(key, pepper=pepper), stored_hash)


def new_key(tenant: str, *, pepper: bytes) -> NewKey:
    """Generate a key for ``tenant`` with a fresh prefix and secret."""
    prefix = secrets.token_hex(6)
    key = f"{KEY_SCHEME}.{tenant}.{prefix}.{secrets.token_urlsafe(32)}"
    return NewKey(prefix=prefix, key=key, key_hash=hash_key(key, pepper=pepper))
