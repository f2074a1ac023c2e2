"""Settings of the ``vsc`` CLI process (``VSC_*`` environment variables)."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from activities.settings import BufferConfig, TemporalConfig


class ConsoleSettings(BaseSettings):
    """Where the CLI finds the stack; options on the command line override these."""

    model_config = SettingsConfigDict(env_prefix="VSC_", env_nested_delimiter="__", extra="ignore")

    home: Path = Path(".vsc")
    temporal: TemporalConfig = TemporalConfig()
    tenant: str = "demo"
    """Tenant whose cloud queue `vsc run` uses when --tenant is not given."""
    metadata_url: str = ""
    """Metadata store of agents, tokens and audit; empty means ``sqlite:///<home>/metadata.db``."""
    buffer: BufferConfig = BufferConfig()
    """Only its master key is used (``VSC_BUFFER__MASTER_KEY``, else ``<home>/master.key``), as the
    cloud worker reads it, to open the payload keyring."""
    payload_encryption: bool = True
    """`vsc run` / `vsc demo` encrypt workflow inputs with the tenant's payload key."""
    payload_keyring_dir: Path = Path("payload-keys")
    """The tenants' payload keys, the cloud worker's; relative paths are under ``home``."""

    api_url: str = "http://127.0.0.1:8000"
    """The console REST API the resource commands (connections, definitions, executions, ...) talk to."""
    api_key: SecretStr | None = None
    """API key of those commands; default: the one ``vsc login`` (or ``vsc up``) saved under ``home``."""

    @model_validator(mode="after")
    def _default_metadata(self) -> ConsoleSettings:
        if not self.metadata_url:
            self.metadata_url = f"sqlite:///{self.home / 'metadata.db'}"
        return self
