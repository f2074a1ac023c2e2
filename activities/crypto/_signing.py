"""Ed25519 signatures on raw 32-byte keys, the agents' proof of identity to the gateway."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from activities.errors import InvalidInputError

ED25519_KEY_BYTES = 32
ED25519_SIGNATURE_BYTES = 64


def _private(raw: bytes) -> Ed25519PrivateKey:
    if len(raw) != ED25519_KEY_BYTES:
        raise InvalidInputError(f"an Ed25519 private key is {ED25519_KEY_BYTES} bytes, got {len(raw)}")
    return Ed25519PrivateKey.from_private_bytes(raw)


def ed25519_generate() -> bytes:
    """Return a new random Ed25519 private key as its 32 raw bytes."""
    return Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def ed25519_public(private_key: bytes) -> bytes:
    """Return the 32 raw bytes of the public key belonging to ``private_key``."""
    return _private(private_key).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def ed25519_sign(private_key: bytes, data: bytes) -> bytes:
    """Sign ``data`` with a raw private key; returns the 64-byte signature."""
    return _private(private_key).sign(data)


def ed25519_verify(public_key: bytes, signature: bytes, data: bytes) -> bool:
    """Whether ``signature`` is a valid signature of ``data`` by ``public_key``.

    Malformed keys or signatures count as invalid rather than raising, so a verifier facing
    untrusted input has one outcome to handle.
    """
    if len(public_key) != ED25519_KEY_BYTES or len(signature) != ED25519_SIGNATURE_BYTES:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True
