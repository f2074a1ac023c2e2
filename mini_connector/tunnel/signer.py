"""What the tunnel needs from the agent's identity: a public key and signatures.

The agent's vault owns the real key; the tunnel depends only on :class:`Signer`, so the vault
can keep the private key wherever it likes.
"""

from __future__ import annotations

import base64
from typing import Protocol, runtime_checkable

from activities.crypto import ed25519_generate, ed25519_public, ed25519_sign, ed25519_verify


@runtime_checkable
class Signer(Protocol):
    """Proves the agent's identity without handing its private key to the tunnel."""

    def public_key_b64(self) -> str:
        """Base64 of the 32 raw bytes of the Ed25519 public key."""
        ...

    def sign(self, data: bytes) -> bytes:
        """Ed25519 signature of ``data``."""
        ...


class InMemoryEd25519Signer:
    """A :class:`Signer` holding its key in memory (tests, benchmarks, simulated agents).

    Args:
        private_key: The raw 32-byte Ed25519 private key; a fresh one is generated when omitted.
    """

    def __init__(self, private_key: bytes | None = None) -> None:
        self._key = private_key or ed25519_generate()

    def public_key_b64(self) -> str:
        """Base64 of the raw public key, the form the gateway stores in ``agents.public_key``."""
        return base64.b64encode(ed25519_public(self._key)).decode()

    def sign(self, data: bytes) -> bytes:
        """Ed25519 signature of ``data``."""
        return ed25519_sign(self._key, data)


def verify_signature(*, public_key_b64: str, signature_b64: str, data: bytes) -> bool:
    """Whether ``signature_b64`` is a valid Ed25519 signature of ``data`` by that public key.

    Malformed keys or signatures count as invalid rather than raising: to the caller they are
    the same refusal.
    """
    try:
        key = base64.b64decode(public_key_b64, validate=True)
        signature = base64.b64decode(signature_b64, validate=True)
    except ValueError:
        return False
    return ed25519_verify(key, signature, data)
