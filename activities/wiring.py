"""Build the buffer store and the secret store from configuration; the one place that picks their backends."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from activities.buffer import BufferQuota, BufferStore, DirectoryBackend, ObjectBackend, QuotaBackend
from activities.crypto import LocalKeyring, load_master_key
from activities.payload_codec import PAYLOAD_KEY_LABEL
from activities.settings import BufferConfig, ObjectStoreConfig, VaultConfig

if TYPE_CHECKING:
    from activities.secrets import SecretStore


def build_backend(cfg: ObjectStoreConfig, *, quota: BufferQuota | None = None) -> ObjectBackend:
    """The object store named by ``cfg``: a directory, or S3 through boto3.

    With ``quota`` every put is checked against the writing tenant's buffer quota; the cloud
    workers and the gateway (which stores agents' chunks) pass one.
    """
    store = _store(cfg)
    return store if quota is None else QuotaBackend(store, quota=quota)


def _store(cfg: ObjectStoreConfig) -> ObjectBackend:
    if cfg.backend == "directory":
        return DirectoryBackend(cfg.directory)
    # Cloud side only: the agent never holds object-store credentials, nor needs this SDK.
    import boto3

    from activities.buffer.s3 import S3Backend

    client = boto3.client(
        "s3",
        endpoint_url=cfg.s3_endpoint_url,
        region_name=cfg.s3_region,
        aws_access_key_id=cfg.s3_access_key_id.get_secret_value() if cfg.s3_access_key_id else None,
        aws_secret_access_key=cfg.s3_secret_access_key.get_secret_value()
        if cfg.s3_secret_access_key
        else None,
    )
    return S3Backend(client, cfg.s3_bucket)


def _master_key(cfg: BufferConfig) -> bytes:
    return load_master_key(
        env_value=cfg.master_key.get_secret_value() if cfg.master_key else None, keyfile=cfg.master_keyfile
    )


def build_keyring(cfg: BufferConfig) -> LocalKeyring:
    """The local envelope keyring named by ``cfg`` (master key from env or keyfile)."""
    return LocalKeyring(cfg.keyring_dir, _master_key(cfg))


def build_payload_keyring(cfg: BufferConfig, *, keyring_dir: Path) -> LocalKeyring:
    """The tenants' Temporal payload keys under ``keyring_dir``, wrapped by ``cfg``'s master key.

    A directory and wrap label of their own keep payload keys and buffer data keys apart.
    """
    return payload_keyring(keyring_dir=keyring_dir, master_key=_master_key(cfg))


def payload_keyring(*, keyring_dir: Path, master_key: bytes) -> LocalKeyring:
    """The payload keyring under ``keyring_dir`` for an already loaded master key (the console API)."""
    return LocalKeyring(keyring_dir, master_key, label=PAYLOAD_KEY_LABEL)


def build_buffer(
    cfg: BufferConfig,
    *,
    on_integrity_failure: Callable[[str, Mapping[str, str]], None] | None = None,
    quota: BufferQuota | None = None,
) -> BufferStore:
    """A buffer store with the local envelope keyring (and, with ``quota``, the buffer quota)."""
    return BufferStore(
        backend=build_backend(cfg, quota=quota),
        keyring=build_keyring(cfg),
        ttl=cfg.ttl,
        on_integrity_failure=on_integrity_failure,
    )


def build_secret_store(
    *,
    vault: VaultConfig,
    master_key: SecretStr | None,
    master_keyfile: Path,
    keyring_dir: Path,
    create_missing: bool = False,
) -> SecretStore:
    """Vault when ``vault.url`` is set, else the sealed local store keyed from ``master_key`` / its keyfile.

    Cloud side only (the console and the cloud worker): the agent has its own local vault.

    Args:
        vault: Vault settings; unset ``url`` selects the sealed store.
        master_key: Base64 master key of the sealed store (wins over the keyfile).
        master_keyfile: Keyfile of the sealed store's master key.
        keyring_dir: Where the sealed store's wrapped per-tenant keys live.
        create_missing: Create the keyfile if absent (the local environment only).
    """
    from activities.secrets import SealedSecretStore, VaultSecretStore

    if vault.enabled:
        return VaultSecretStore(config=vault)
    master = load_master_key(
        env_value=master_key.get_secret_value() if master_key else None,
        keyfile=master_keyfile,
        create_missing=create_missing,
    )
    return SealedSecretStore(keyring=LocalKeyring(keyring_dir, master))
