"""Build the buffer store from configuration; the one place that picks a backend."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from activities.buffer import BufferStore, DirectoryBackend, ObjectBackend
from activities.crypto import LocalKeyring, load_master_key
from activities.payload_codec import PAYLOAD_KEY_LABEL
from activities.settings import BufferConfig


def build_backend(cfg: BufferConfig) -> ObjectBackend:
    """The object store named by ``cfg``: a directory, or S3 through boto3."""
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
    cfg: BufferConfig, *, on_integrity_failure: Callable[[str, Mapping[str, str]], None] | None = None
) -> BufferStore:
    """A buffer store with the local envelope keyring."""
    return BufferStore(
        backend=build_backend(cfg),
        keyring=build_keyring(cfg),
        ttl=cfg.ttl,
        on_integrity_failure=on_integrity_failure,
    )
