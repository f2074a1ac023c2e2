"""Settings of the on-premise agent process (``VSC_AGENT_*`` environment variables)."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from activities.settings import BufferConfig, TemporalConfig


class AgentSettings(BaseSettings):
    """Who the agent is and what it reaches; credentials stay in its local registry file."""

    model_config = SettingsConfigDict(env_prefix="VSC_AGENT_", env_nested_delimiter="__")

    tenant: str = "demo"
    agent_id: str = "edge-1"
    home: Path = Path(".vsc")
    temporal: TemporalConfig = TemporalConfig()
    """Until the WebSocket gateway lands the agent dials Temporal directly (see worker.py)."""
    buffer: BufferConfig = BufferConfig()
    connections_file: Path = Path("agent-connections.json")
    """The agent's local connection registry; relative paths are under ``home``."""
    max_concurrent_activities: int = 4
    vault_file: Path = Path("agent.vault")
    """The encrypted local vault (identity and credentials); relative paths are under ``home``."""
    vault_secret_file: Path = Path("agent.secret")
    """The random agent secret that, with the machine identity, keys the vault; relative to ``home``."""
    machine_id: SecretStr | None = None
    """Overrides /etc/machine-id for the vault key (tests, containers without a machine id)."""

    @model_validator(mode="after")
    def _under_home(self) -> AgentSettings:
        self.connections_file = self.home / self.connections_file
        self.vault_file = self.home / self.vault_file
        self.vault_secret_file = self.home / self.vault_secret_file
        self.buffer = self.buffer.under(self.home)
        return self
