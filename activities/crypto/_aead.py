"""AES-256-GCM sealing with random nonces and length-framed associated data.

Random 96-bit nonces are safe only while a key seals far fewer than 2**32 messages, which is why
keyrings count messages per key and rotate at a cap (see ``DEFAULT_MAX_MESSAGES``).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from activities.errors import DecryptionFailedError, InvalidInputError, VscError

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16

_EXC_MAP: dict[type[Exception], type[VscError]] = {
    InvalidTag: DecryptionFailedError,
}


@contextmanager
def _map_crypto_errors(context: str) -> Iterator[None]:
    """Translate ``cryptography`` failures into our tree, dropping their traceback context."""
    try:
        yield
    except tuple(_EXC_MAP) as exc:
        raise _EXC_MAP[type(exc)](f"{context}: authenticated decryption failed", context=context) from None


def encode_aad(*parts: str | bytes | int) -> bytes:
    """Frame associated-data fields unambiguously (length-prefixed), so no two tuples collide.

    Args:
        *parts: Fields to bind; ints are encoded as signed 64-bit big-endian.

    Returns:
        The bytes to pass as associated data.
    """
    out = bytearray()
    for part in parts:
        raw = (
            part.encode()
            if isinstance(part, str)
            else struct.pack(">q", part)
            if isinstance(part, int)
            else part
        )
        out += struct.pack(">I", len(raw)) + raw
    return bytes(out)


def _check_key(key: bytes) -> None:
    if len(key) != KEY_BYTES:
        raise InvalidInputError(f"AES-256-GCM needs a {KEY_BYTES}-byte key, got {len(key)} bytes")


def seal(key: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    """Encrypt and authenticate ``plaintext`` under a fresh random nonce.

    Args:
        key: 32-byte AES key.
        plaintext: Data to encrypt.
        aad: Associated data that must be presented again to open the message.

    Returns:
        ``(nonce, ciphertext_with_tag)``.
    """
    _check_key(key)
    nonce = os.urandom(NONCE_BYTES)
    return nonce, AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes, *, context: str) -> bytes:
    """Decrypt a message from :func:`seal`, refusing anything that does not authenticate.

    Args:
        key: 32-byte AES key.
        nonce: The nonce returned by :func:`seal`.
        ciphertext: Ciphertext with its 16-byte tag appended.
        aad: The same associated data used when sealing.
        context: What is being opened (object key, key file), for the error message.

    Returns:
        The plaintext.

    Raises:
        DecryptionFailedError: Wrong key, altered bytes or mismatched associated data.
    """
    _check_key(key)
    if len(nonce) != NONCE_BYTES or len(ciphertext) < TAG_BYTES:
        raise DecryptionFailedError(f"{context}: malformed nonce or ciphertext", context=context)
    with _map_crypto_errors(context):
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
