"""What the tunnel needs from the agent's identity: a public key and signatures.

The agent's vault owns the real key; the tunnel depends only on :class:`Signer`, so the vault
can keep the private key wherever it likes.
"""

from __future__ import annotations

import base64
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


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
        private_key: The key to use; a fresh one is generated when omitted.
    """

    def __init__(self, private_key: Ed25519PrivateKey | None = None) -> None:
        self._key = private_key or Ed25519PrivateKey.generate()

    def public_key_b64(self) -> str:
        """Base64 of the raw public key, the form the gateway stores in ``agents.public_key``."""
        raw = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.b64encode(raw).decode()

    def sign(self, data: bytes) -> bytes:
        """Ed25519 signature of ``data``."""
        return self._key.sign(data)


def verify_signature(*, public_key_b64: str, signature_b64: str, data: bytes) -> bool:
    """Whether ``signature_b64`` is a valid Ed25519 signature of ``data`` by that public key.

    Malformed keys or signatures count as invalid rather than raising: to the caller they are
    the same refusal.
    """
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64, validate=True))
        key.verify(base64.b64decode(signature_b64, validate=True), data)
    except (InvalidSignature, ValueError):
        return False
    return True
