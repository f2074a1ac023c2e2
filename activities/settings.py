"""Settings pieces shared by the processes: Temporal, buffer and Vault configuration.

Each process has exactly one ``BaseSettings`` of its own (``workers.settings.CloudSettings``,
``mini_connector.settings.AgentSettings``); these plain models are the parts they share.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr


class TemporalConfig(BaseModel):
    """Where the Temporal frontend is."""

    address: str = "127.0.0.1:7233"
    namespace: str = "default"


class ObjectStoreConfig(BaseModel):
    """An object store: a directory (embedded stack) or an S3 bucket (production)."""

    backend: Literal["directory", "s3"] = "directory"
    directory: Path = Path("objects")
    """Relative paths are resolved under the process's home directory."""
    s3_endpoint_url: str | None = None
    s3_bucket: str = "vsc-objects"
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None


class ArtifactConfig(ObjectStoreConfig):
    """Where the artifact registry keeps its immutable, content-addressed objects."""

    directory: Path = Path("artifacts")
    s3_bucket: str = "vsc-artifacts"


class BufferConfig(ObjectStoreConfig):
    """Where encrypted chunks go and how long they live."""

    directory: Path = Path("buffer")
    """Relative paths here are resolved under the process's home directory (see :meth:`under`)."""
    s3_bucket: str = "vsc-buffer"
    ttl_hours: float = 24.0
    keyring_dir: Path = Path("keys")
    master_key: SecretStr | None = None
    """Base64 of 32 bytes; in the local environment a keyfile is created when unset."""
    master_keyfile: Path = Path("master.key")

    def under(self, home: Path) -> BufferConfig:
        """This configuration with relative paths resolved under ``home``."""
        return self.model_copy(
            update={
                "directory": home / self.directory,
                "keyring_dir": home / self.keyring_dir,
                "master_keyfile": home / self.master_keyfile,
            }
        )

    @property
    def ttl(self) -> timedelta:
        """Chunk lifetime."""
        return timedelta(hours=self.ttl_hours)


class VaultConfig(BaseModel):
    """Where the cloud's secrets live when HashiCorp Vault (or OpenBao) is used: a KV v2 mount.

    Unset ``url`` means the sealed local store. A token comes from ``token`` or, re-read on every
    call so an agent-renewed token is picked up, from ``token_file``.
    """

    url: str | None = None
    """e.g. ``https://vault.internal:8200``; when set, Vault is the secret store."""
    token: SecretStr | None = None
    token_file: Path | None = None
    mount: str = Field(default="secret", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    """Mount point of the KV version 2 secrets engine."""
    path_prefix: str = Field(default="vsc", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    """Secrets are at ``<prefix>/<tenant>/secrets/<ref>``: one subtree per tenant for Vault policies."""
    namespace: str | None = None
    """Vault Enterprise namespace, if any."""
    ca_file: Path | None = None
    """CA bundle that signs the Vault server's certificate; the system store when unset."""
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    @property
    def enabled(self) -> bool:
        """Whether Vault is configured."""
        return self.url is not None

    def check(self, *, environment: str) -> None:
        """Refuse configurations that cannot work, or that would send tokens in clear outside ``local``.

        Raises:
            ValueError: No token source, or plain http outside the local environment.
        """
        if self.url is None:
            return
        if self.token is None and self.token_file is None:
            raise ValueError("Vault needs a token: set its `token` or `token_file`")
        if environment != "local" and not self.url.startswith("https://"):
            raise ValueError("Vault must be reached over https outside the local environment")
