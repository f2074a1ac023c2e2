"""The project's one owner of cryptography: AES-256-GCM sealing and envelope-encryption keyrings.

Nothing else in the project imports ``cryptography``; callers seal and open through here.
"""

from activities.crypto._aead import KEY_BYTES, NONCE_BYTES, TAG_BYTES, encode_aad, open_sealed, seal
from activities.crypto._keyring import DEFAULT_MAX_MESSAGES, DataKey, Keyring, check_key_id, check_tenant
from activities.crypto._local import LocalKeyring
from activities.crypto._master import load_master_key

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
]
