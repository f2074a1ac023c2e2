"""Key derivation: HKDF-SHA256 for high-entropy inputs, scrypt for human passphrases."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from activities.crypto._aead import KEY_BYTES
from activities.errors import InvalidInputError

SCRYPT_MAX_LOG2_N = 20
"""Largest cost accepted from a file header: bounds the memory (128 * r * 2**n) a file can demand."""


def hkdf_sha256(ikm: bytes, *, salt: bytes, info: bytes, length: int = KEY_BYTES) -> bytes:
    """Derive a key from secret input keying material that is already uniformly random.

    Args:
        ikm: Secret input (a random secret, possibly concatenated with non-secret context).
        salt: Non-secret random salt; a fresh salt per use gives a fresh key per use.
        info: Purpose label, so keys derived for different uses never coincide.
        length: Output length in bytes.

    Returns:
        The derived key.
    """
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def scrypt_key(passphrase: bytes, *, salt: bytes, log2_n: int, r: int = 8, p: int = 1) -> bytes:
    """Derive a 32-byte key from a passphrase with scrypt, which makes guessing memory-hard.

    Args:
        passphrase: What a person typed.
        salt: Random salt stored beside the ciphertext.
        log2_n: CPU/memory cost as a power of two (15 is about 32 MiB with r=8).
        r: Block size.
        p: Parallelism.

    Returns:
        The derived key.

    Raises:
        InvalidInputError: The cost parameters are out of the accepted range.
    """
    if not 10 <= log2_n <= SCRYPT_MAX_LOG2_N or not 1 <= r <= 32 or not 1 <= p <= 16:
        raise InvalidInputError(f"scrypt parameters out of range (log2 n={log2_n}, r={r}, p={p})")
    return Scrypt(salt=salt, length=KEY_BYTES, n=2**log2_n, r=r, p=p).derive(passphrase)
