"""Settings of the cloud worker process (``VSC_*`` environment variables)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from activities.settings import BufferConfig, TemporalConfig


class CloudSettings(BaseSettings):
    """Everything the cloud worker needs; nested fields use ``__``, e.g. ``VSC_BUFFER__BACKEND=s3``."""

    model_config = SettingsConfigDict(env_prefix="VSC_", env_nested_delimiter="__")

    environment: Literal["local", "staging", "production"] = "local"
    home: Path = Path(".vsc")
    tenants: list[str] = Field(default_factory=lambda: ["demo"])
    temporal: TemporalConfig = TemporalConfig()
    buffer: BufferConfig = BufferConfig()
    metadata_url: str = ""
    """SQLAlchemy URL of the metadata store; defaults to SQLite under ``home``."""
    connections_file: Path | None = None
    """JSON registry of the cloud connections this worker may use."""
    payload_encryption: bool = True
    """Encrypt Temporal payloads with each tenant's payload key (``activities.payload_codec``)."""
    payload_keyring_dir: Path = Path("payload-keys")
    """The tenants' payload keys (wrapped by the buffer's master key); relative paths are under ``home``."""

    @model_validator(mode="after")
    def _defaults_and_secrets(self) -> CloudSettings:
        if not self.metadata_url:
            self.metadata_url = f"sqlite:///{(self.home / 'metadata.db').resolve()}"
        if self.connections_file is None:
            self.connections_file = self.home / "cloud-connections.json"
        self.buffer = self.buffer.under(self.home)
        self.payload_keyring_dir = self.home / self.payload_keyring_dir
        if self.environment != "local" and self.buffer.master_key is None:
            raise ValueError("VSC_BUFFER__MASTER_KEY must be set outside the local environment")
        return self
