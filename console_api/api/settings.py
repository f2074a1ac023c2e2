"""Settings of the console REST API process (``VSC_API_*`` environment variables)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from activities.settings import ArtifactConfig, TemporalConfig, VaultConfig


class ApiSettings(BaseSettings):
    """Where the API listens, which stores it uses and the limits it enforces.

    Nested fields use ``__``, e.g. ``VSC_API_TEMPORAL__ADDRESS``.
    """

    model_config = SettingsConfigDict(env_prefix="VSC_API_", env_nested_delimiter="__")

    environment: Literal["local", "staging", "production"] = "local"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    home: Path = Path(".vsc")
    metadata_url: str = ""
    """SQLAlchemy URL of the metadata store; defaults to SQLite under ``home``."""
    temporal: TemporalConfig = TemporalConfig()
    ui_url: str = "http://127.0.0.1:8233"
    """Base URL of the Temporal Web UI, for the run links in execution responses."""
    key_pepper: SecretStr | None = None
    """Base64 of 32 bytes keying the HMAC of API keys; in ``local`` a keyfile under home is used."""
    key_pepper_file: Path = Path("api-pepper.key")
    master_key: SecretStr | None = None
    """Base64 of 32 bytes wrapping the secret store's per-tenant keys; a keyfile in ``local``."""
    master_keyfile: Path = Path("master.key")
    secret_keyring_dir: Path = Path("secret-keys")
    artifacts: ArtifactConfig = ArtifactConfig()
    """The artifact registry's object store (definitions; SDKs later); a directory under home by default."""
    vault: VaultConfig = VaultConfig()
    """HashiCorp Vault / OpenBao for cloud secrets (``VSC_API_VAULT__URL`` ...); unset: the sealed store."""
    webhook_tolerance_seconds: int = Field(default=300, ge=1, le=3600)
    """A webhook delivery whose signed timestamp is further than this from now is refused (401)."""
    webhook_max_body_bytes: int = Field(default=262_144, ge=2, le=1_048_576)
    """Largest webhook body accepted (413 above); it travels in a workflow signal, so keep it small."""
    payload_encryption: bool = True
    """Start executions with the caller's tenant payload codec and serve the codec endpoints."""
    payload_keyring_dir: Path = Path("payload-keys")
    """The tenants' payload keys, wrapped by ``master_key``: the cloud worker's ``<home>/payload-keys``."""
    codec_cors_origins: list[str] = Field(default_factory=lambda: ["http://127.0.0.1:8233"])
    """Browser origins (the Temporal Web UI) allowed to call ``/codec/*`` (CORS)."""
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    """Larger request bodies are refused with 413 before they are read."""
    enrollment_ttl_minutes: int = Field(default=60, ge=1, le=1440)
    agent_online_seconds: float = Field(default=30.0, gt=0)
    """An agent counts as online when it reported presence within this many seconds."""
    sdk_cache_dir: Path = Path("sdk-cache")
    """Compiled SDK components by build key (under home), so an unchanged SDK is never rebuilt."""
    spec_max_bytes: int = Field(default=1_048_576, ge=1024, le=16_777_216)
    """Largest OpenAPI document fetched from a spec URL (the agent's inline limit is 1 MiB)."""
    spec_fetch_timeout_seconds: float = Field(default=15.0, gt=0, le=120)
    """Per fetch of a spec URL, by the console or the agent."""
    spec_fetch_allowed_origins: list[str] = Field(default_factory=list)
    """Origins (``http://127.0.0.1:8080``) the console may fetch specs from although they are private.

    Empty by default: an internet API's spec URL must resolve to a public address. Operators list
    an origin here only for an in-house registry (and tests on loopback).
    """

    @model_validator(mode="after")
    def _defaults_and_secrets(self) -> ApiSettings:
        if not self.metadata_url:
            self.metadata_url = f"sqlite:///{(self.home / 'metadata.db').resolve()}"
        self.key_pepper_file = self.home / self.key_pepper_file
        self.master_keyfile = self.home / self.master_keyfile
        self.secret_keyring_dir = self.home / self.secret_keyring_dir
        self.artifacts = self.artifacts.model_copy(update={"directory": self.home / self.artifacts.directory})
        self.vault.check(environment=self.environment)
        self.payload_keyring_dir = self.home / self.payload_keyring_dir
        self.sdk_cache_dir = self.home / self.sdk_cache_dir
        if self.environment != "local":
            if self.key_pepper is None:
                raise ValueError("VSC_API_KEY_PEPPER must be set outside the local environment")
            if self.master_key is None and not self.vault.enabled:
                raise ValueError("VSC_API_MASTER_KEY must be set outside the local environment")
        return self
