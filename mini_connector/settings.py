"""Settings of the on-premise agent process (``VSC_AGENT_*`` environment variables)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from activities.settings import BufferConfig, TemporalConfig


class AgentSettings(BaseSettings):
    """Where the agent keeps its state and how it connects; identity and credentials are in the vault."""

    model_config = SettingsConfigDict(env_prefix="VSC_AGENT_", env_nested_delimiter="__")

    tenant: str = "demo"
    agent_id: str = "edge-1"
    home: Path = Path(".vsc")
    temporal: TemporalConfig = TemporalConfig()
    """Direct Temporal connection, used only when no ``gateway_url`` is set (see worker.py)."""
    gateway_url: str | None = None
    """``wss://host:port`` of the gateway; when set the agent reaches Temporal only through it."""
    gateway_ca_file: Path | None = None
    """CA bundle that signs the gateway's certificate, when it is not a public CA."""
    gateway_ping_interval: float = 10.0
    gateway_ping_timeout: float = 20.0
    """WebSocket ping cadence; a half-open socket is noticed within interval + timeout."""
    reconnect_cap_seconds: float = 30.0
    """Longest wait between reconnect attempts (exponential backoff, full jitter)."""
    buffer: BufferConfig = BufferConfig()
    connections_file: Path = Path("agent-connections.json")
    """The agent's local connection registry; relative paths are under ``home``."""
    max_concurrent_activities: int = 4
    payload_encryption: bool = True
    """Encrypt Temporal payloads with the tenant's payload key (through the gateway session)."""
    payload_keyring_dir: Path = Path("payload-keys")
    """Payload keys of the direct-dial development worker only (under ``home``; wrapped by the
    buffer's master key). Through a gateway the agent holds no payload key file."""
    vault_file: Path = Path("agent.vault")
    """The encrypted local vault (identity and credentials); relative paths are under ``home``."""
    vault_secret_file: Path = Path("agent.secret")
    """The random agent secret that, with the machine identity, keys the vault; relative to ``home``."""
    artifact_cache_dir: Path = Path("artifact-cache")
    """Verified SDK artifacts fetched through the gateway, kept so each crosses it once; under ``home``."""
    artifact_cache_bytes: int = Field(default=1 << 30, ge=0)
    """Most bytes the artifact cache keeps (least recently used files go first; 0: no caching)."""
    machine_id: SecretStr | None = None
    """Overrides /etc/machine-id for the vault key (tests, containers without a machine id)."""

    @model_validator(mode="after")
    def _under_home(self) -> AgentSettings:
        self.connections_file = self.home / self.connections_file
        self.vault_file = self.home / self.vault_file
        self.vault_secret_file = self.home / self.vault_secret_file
        self.buffer = self.buffer.under(self.home)
        self.payload_keyring_dir = self.home / self.payload_keyring_dir
        self.artifact_cache_dir = self.home / self.artifact_cache_dir
        return self
