"""Byte layouts of the vault file and of its passphrase-protected backup.

Vault file::

    b"VSCVAULT" | version (1 byte) | salt (16) | nonce (12) | AES-256-GCM ciphertext + tag

    key = HKDF-SHA256(ikm = agent secret || machine id, salt, info = "vsc-agent-vault-v<version>")

Backup::

    b"VSCVBKUP" | version (1) | scrypt log2 n (1) | r (1) | p (1) | salt (16) | nonce (12) | ciphertext + tag

    key = scrypt(passphrase, salt, n, r, p)

The header (everything before the nonce) is the associated data, so the version byte and the
KDF parameters cannot be changed without failing authentication. A fresh salt on every write
gives a fresh key per write, so one key never seals more than one message.
"""

from __future__ import annotations

import secrets
import struct

from activities.crypto import NONCE_BYTES, TAG_BYTES, encode_aad, hkdf_sha256, open_sealed, scrypt_key, seal
from activities.errors import DecryptionFailedError, InvalidInputError, VaultError

VAULT_MAGIC = b"VSCVAULT"
BACKUP_MAGIC = b"VSCVBKUP"
VAULT_VERSION = 1
BACKUP_VERSION = 1
SALT_BYTES = 16
BACKUP_LOG2_N = 15
_VAULT_HEADER = struct.Struct(f">8sB{SALT_BYTES}s")
_BACKUP_HEADER = struct.Struct(f">8sBBBB{SALT_BYTES}s")


def _vault_key(*, secret: bytes, machine_id: bytes, salt: bytes, version: int) -> bytes:
    return hkdf_sha256(secret + machine_id, salt=salt, info=f"vsc-agent-vault-v{version}".encode())


def seal_vault(plaintext: bytes, *, secret: bytes, machine_id: bytes) -> bytes:
    """Encrypt the vault document under the key bound to this machine and agent secret."""
    salt = secrets.token_bytes(SALT_BYTES)
    header = _VAULT_HEADER.pack(VAULT_MAGIC, VAULT_VERSION, salt)
    key = _vault_key(secret=secret, machine_id=machine_id, salt=salt, version=VAULT_VERSION)
    nonce, ciphertext = seal(key, plaintext, encode_aad(header))
    return header + nonce + ciphertext


def _split(blob: bytes, header: struct.Struct, magic: bytes, *, what: str) -> tuple[tuple, bytes, bytes]:
    if len(blob) < header.size + NONCE_BYTES + TAG_BYTES or not blob.startswith(magic):
        raise VaultError(f"{what} is truncated or is not a {what}", file=what)
    head = blob[: header.size]
    nonce = blob[header.size : header.size + NONCE_BYTES]
    return header.unpack(head), nonce, blob[header.size + NONCE_BYTES :]


def open_vault(blob: bytes, *, secret: bytes, machine_id: bytes, what: str) -> bytes:
    """Decrypt a vault file's bytes.

    Args:
        blob: The file content.
        secret: The agent secret.
        machine_id: This machine's identity.
        what: Name of the file, for messages.

    Raises:
        VaultError: Truncated, unknown version, or it does not authenticate (wrong secret,
            another machine, altered bytes).
    """
    (_, version, salt), nonce, ciphertext = _split(blob, _VAULT_HEADER, VAULT_MAGIC, what=what)
    if version != VAULT_VERSION:
        raise VaultError(f"{what} has format version {version}; this agent reads version {VAULT_VERSION}")
    key = _vault_key(secret=secret, machine_id=machine_id, salt=salt, version=version)
    try:
        return open_sealed(key, nonce, ciphertext, encode_aad(blob[: _VAULT_HEADER.size]), context=what)
    except DecryptionFailedError:
        raise VaultError(
            f"{what} cannot be opened: it was copied from another machine, the agent secret does not "
            "match, or the file was altered (restore it with `vsc-agent vault import`)",
            file=what,
        ) from None


def seal_backup(plaintext: bytes, *, passphrase: str, log2_n: int = BACKUP_LOG2_N) -> bytes:
    """Encrypt the vault document under a passphrase, independent of any machine."""
    if not passphrase:
        raise InvalidInputError("the backup passphrase must not be empty")
    salt = secrets.token_bytes(SALT_BYTES)
    r, p = 8, 1
    header = _BACKUP_HEADER.pack(BACKUP_MAGIC, BACKUP_VERSION, log2_n, r, p, salt)
    key = scrypt_key(passphrase.encode("utf-8"), salt=salt, log2_n=log2_n, r=r, p=p)
    nonce, ciphertext = seal(key, plaintext, encode_aad(header))
    return header + nonce + ciphertext


def open_backup(blob: bytes, *, passphrase: str) -> bytes:
    """Decrypt a backup made by :func:`seal_backup`.

    Raises:
        VaultError: Not a backup, unknown version, KDF parameters out of range, wrong passphrase
            or altered bytes.
    """
    what = "vault backup"
    fields, nonce, ciphertext = _split(blob, _BACKUP_HEADER, BACKUP_MAGIC, what=what)
    _, version, log2_n, r, p, salt = fields
    if version != BACKUP_VERSION:
        raise VaultError(f"{what} has format version {version}; this agent reads version {BACKUP_VERSION}")
    try:
        key = scrypt_key(passphrase.encode("utf-8"), salt=salt, log2_n=log2_n, r=r, p=p)
        return open_sealed(key, nonce, ciphertext, encode_aad(blob[: _BACKUP_HEADER.size]), context=what)
    except InvalidInputError:
        raise VaultError(f"{what} has out-of-range key-derivation parameters") from None
    except DecryptionFailedError:
        raise VaultError(f"{what} cannot be opened: wrong passphrase or the file was altered") from None
