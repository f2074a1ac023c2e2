"""Settings of the cloud worker process (``VSC_*`` environment variables)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from activities.settings import ArtifactConfig, BufferConfig, TemporalConfig, VaultConfig
from activities.tiers import TIERS
from workers.versioning import Promote


class CloudSettings(BaseSettings):
    """Everything the cloud worker needs; nested fields use ``__``, e.g. ``VSC_BUFFER__BACKEND=s3``."""

    model_config = SettingsConfigDict(env_prefix="VSC_", env_nested_delimiter="__")

    environment: Literal["local", "staging", "production"] = "local"
    home: Path = Path(".vsc")
    tenants: list[str] = Field(default_factory=lambda: ["demo"])
    """Tenants provisioned at start; served too unless ``pool`` is set."""
    pool: str | None = None
    """Worker pool this process is (``activities.tiers``: shared / pro / enterprise): it then serves
    every provisioned tenant whose tier maps to it, instead of ``tenants``."""
    temporal: TemporalConfig = TemporalConfig()
    buffer: BufferConfig = BufferConfig()
    metadata_url: str = ""
    """SQLAlchemy URL of the metadata store; defaults to SQLite under ``home``."""
    connections_file: Path | None = None
    """JSON registry of cloud connections this worker may use, besides those tenants save through the API."""
    vault: VaultConfig = VaultConfig()
    """Vault / OpenBao holding the secrets of API-saved connections (``VSC_VAULT__URL``); the console's."""
    secret_master_key: SecretStr | None = None
    """Without Vault: base64 master key of the console's sealed secret store (``VSC_API_MASTER_KEY``)."""
    secret_master_keyfile: Path = Path("master.key")
    secret_keyring_dir: Path = Path("secret-keys")
    """Without Vault: the console's sealed-store keyring (``VSC_API_SECRET_KEYRING_DIR``)."""
    """JSON registry of the cloud connections this worker may use."""
    artifacts: ArtifactConfig = ArtifactConfig()
    """The artifact registry pinned SDK versions are loaded from (the console's)."""
    api_private_origins: list[str] = Field(default_factory=list)
    """Origins of internet APIs the operator allows on private addresses (loopback demo and tests only)."""
    payload_encryption: bool = True
    """Encrypt Temporal payloads with each tenant's payload key (``activities.payload_codec``)."""
    payload_keyring_dir: Path = Path("payload-keys")
    """The tenants' payload keys (wrapped by the buffer's master key); relative paths are under ``home``."""
    worker_versioning: bool = True
    """Poll as a Worker Deployment version with pinned workflows (``workers.versioning``, docs/deploy.md)."""
    build_id: str = ""
    """This build's id (``VSC_BUILD_ID``); default: the hash of the workflow code."""
    promote: Promote | None = None
    """Make this version current at start: ``first`` deploy only (default), ``always`` (default in
    the ``local`` environment, whose stack restarts every worker at once) or ``never``."""

    @model_validator(mode="after")
    def _defaults_and_secrets(self) -> CloudSettings:
        if not self.metadata_url:
            self.metadata_url = f"sqlite:///{(self.home / 'metadata.db').resolve()}"
        if self.connections_file is None:
            self.connections_file = self.home / "cloud-connections.json"
        self.buffer = self.buffer.under(self.home)
        if not self.artifacts.directory.is_absolute():
            self.artifacts = self.artifacts.model_copy(
                update={"directory": self.home / self.artifacts.directory}
            )
        self.secret_master_keyfile = self.home / self.secret_master_keyfile
        self.secret_keyring_dir = self.home / self.secret_keyring_dir
        self.vault.check(environment=self.environment)
        pools = sorted({tier.worker_pool for tier in TIERS.values()})
        if self.pool is not None and self.pool not in pools:
            raise ValueError(f"VSC_POOL {self.pool!r} is not a worker pool of any tier ({', '.join(pools)})")
        self.payload_keyring_dir = self.home / self.payload_keyring_dir
        if self.promote is None:
            self.promote = "always" if self.environment == "local" else "first"
        if self.environment != "local" and self.buffer.master_key is None:
            raise ValueError("VSC_BUFFER__MASTER_KEY must be set outside the local environment")
        if self.environment != "local" and not self.vault.enabled and self.secret_master_key is None:
            raise ValueError(
                "VSC_VAULT__URL or VSC_SECRET_MASTER_KEY must be set outside the local environment"
            )
        return self
