"""Settings of the agent gateway process (``VSC_GATEWAY_*`` environment variables)."""

from __future__ import annotations

import socket
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from activities.settings import ArtifactConfig, BufferConfig, TemporalConfig
from mini_connector.tunnel.protocol import DEFAULT_MAX_FRAME, PING_INTERVAL_S, PING_TIMEOUT_S


class GatewaySettings(BaseSettings):
    """Where the gateway listens, what it forwards to, and where it keeps agents and audit events."""

    model_config = SettingsConfigDict(env_prefix="VSC_GATEWAY_", env_nested_delimiter="__")

    host: str = "127.0.0.1"
    port: int = 8765
    """0 picks a free port (tests)."""
    gateway_id: str = Field(default_factory=socket.gethostname)
    """Signed into every session challenge, so a signature cannot be replayed to another gateway."""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    """PEM certificate chain and key; required unless ``host`` is a loopback address."""
    temporal: TemporalConfig = TemporalConfig()
    metadata_url: str = "sqlite:///.vsc/metadata.db"
    audit_tenant: str = "platform"
    """Tenant whose audit log receives refusals that name no known tenant (unknown token or tenant)."""
    max_frame: int = Field(default=DEFAULT_MAX_FRAME, ge=1024)
    ping_interval: float = PING_INTERVAL_S
    ping_timeout: float = PING_TIMEOUT_S
    presence_interval: float = Field(default=5.0, gt=0)
    """Seconds between presence updates; also the longest a revocation from another process waits."""
    max_streams_per_session: int = Field(default=32, ge=1)
    stream_buffer_frames: int = Field(default=64, ge=1)
    buffer: BufferConfig | None = None
    """The cloud's buffer store and keyring (shared with the cloud workers); ``None``: no buffer service."""
    payload_keyring_dir: Path | None = None
    """The tenants' Temporal payload keys (the cloud's ``<home>/payload-keys``, wrapped by the buffer's
    master key), handed to each agent for its own tenant only; ``None`` (or no ``buffer``): none."""
    max_object_bytes: int = Field(default=64 << 20, ge=1)
    """Largest buffer object an agent may upload (in parts of at most one frame each)."""
    artifacts: ArtifactConfig | None = None
    """The cloud's artifact registry (the console's and the cloud workers' ``artifacts``), read for
    agents' ``artifact.get`` (pinned SDKs of their own tenant); ``None``: no artifact service."""
    max_artifact_bytes: int = Field(default=64 << 20, ge=1)
    """Largest artifact sent to an agent (an SDK component is ~18 MB)."""
    handshake_timeout: float = Field(default=15.0, gt=0)
    """Seconds a socket may take for the HTTP upgrade, and again for its hello or enroll message."""
    max_handshakes: int = Field(default=256, ge=1)
    """Sockets upgraded but not yet authenticated; more are answered HTTP 503 (a flood cannot grow it)."""

    @model_validator(mode="after")
    def _tls_pair(self) -> GatewaySettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key must be given together")
        return self
