"""The project's one owner of cryptography: AES-256-GCM sealing, envelope-encryption keyrings, KDFs, Ed25519.

Nothing else in the project imports ``cryptography``; callers seal and open through here.
"""

from activities.crypto._aead import KEY_BYTES, NONCE_BYTES, TAG_BYTES, encode_aad, open_sealed, seal
from activities.crypto._kdf import SCRYPT_MAX_LOG2_N, hkdf_sha256, scrypt_key
from activities.crypto._keyring import DEFAULT_MAX_MESSAGES, DataKey, Keyring, check_key_id, check_tenant
from activities.crypto._local import LocalKeyring
from activities.crypto._master import load_master_key
from activities.crypto._signing import (
    ED25519_KEY_BYTES,
    ED25519_SIGNATURE_BYTES,
    ed25519_generate,
    ed25519_public,
    ed25519_sign,
    ed25519_verify,
)

__all__ = [
    # sealing
    "seal",
    "open_sealed",
    "encode_aad",
    "KEY_BYTES",
    "NONCE_BYTES",
    "TAG_BYTES",
    # keyrings
    "Keyring",
    "DataKey",
    "LocalKeyring",
    "DEFAULT_MAX_MESSAGES",
    "check_tenant",
    "check_key_id",
    # master key
    "load_master_key",
    # key derivation
    "hkdf_sha256",
    "scrypt_key",
    "SCRYPT_MAX_LOG2_N",
    # signatures (agent identity)
    "ed25519_generate",
    "ed25519_public",
    "ed25519_sign",
    "ed25519_verify",
    "ED25519_KEY_BYTES",
    "ED25519_SIGNATURE_BYTES",
]
