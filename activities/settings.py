"""Settings pieces shared by the cloud worker and the agent: Temporal and buffer configuration.

Each process has exactly one ``BaseSettings`` of its own (``workers.settings.CloudSettings``,
``mini_connector.settings.AgentSettings``); these plain models are the parts they share.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, SecretStr


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
