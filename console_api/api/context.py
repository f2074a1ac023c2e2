"""What one API process holds for its lifetime: settings, stores, pepper, artifacts, Temporal, rate limits."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy import Engine
from temporalio.client import Client

from activities.artifacts import ArtifactRegistry
from activities.crypto import load_master_key
from activities.errors import TemporalUnavailableError
from activities.metadata import make_engine
from activities.secrets import SecretStore
from activities.wiring import build_backend, build_secret_store
from console_api.api.quotas import RateLimiter
from console_api.api.settings import ApiSettings
from workflows.converter import DATA_CONVERTER


@dataclass
class ApiContext:
    """Long-lived resources shared by all requests (kept on ``app.state.ctx``)."""

    settings: ApiSettings
    engine: Engine
    pepper: bytes = field(repr=False)
    secrets: SecretStore
    artifacts: ArtifactRegistry
    temporal: Client | None = None
    limiter: RateLimiter = field(default_factory=RateLimiter)
    """Per-tenant request rate of this process (tier ``api_calls_per_minute``)."""
    _connect_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def temporal_client(self) -> Client:
        """The Temporal client, connected on first use so the API starts while Temporal is down."""
        async with self._connect_lock:
            if self.temporal is None:
                address = self.settings.temporal.address
                try:
                    self.temporal = await Client.connect(
                        address, namespace=self.settings.temporal.namespace, data_converter=DATA_CONVERTER
                    )
                except RuntimeError:
                    # The SDK reports a refused or failed connect as a bare RuntimeError.
                    raise TemporalUnavailableError(
                        f"the workflow service at {address} is unreachable; retry later"
                    ) from None
            return self.temporal


def load_pepper(settings: ApiSettings) -> bytes:
    """The API-key pepper from the environment, else from (or, in ``local`` only, into) its keyfile."""
    env = settings.key_pepper.get_secret_value() if settings.key_pepper else None
    return load_master_key(
        env_value=env, keyfile=settings.key_pepper_file, create_missing=settings.environment == "local"
    )


def build_context(
    settings: ApiSettings, *, engine: Engine | None = None, temporal: Client | None = None
) -> ApiContext:
    """Open the stores named by ``settings``; ``engine`` and ``temporal`` may be injected (tests)."""
    engine = engine or make_engine(settings.metadata_url)
    secrets = build_secret_store(
        vault=settings.vault,
        master_key=settings.master_key,
        master_keyfile=settings.master_keyfile,
        keyring_dir=settings.secret_keyring_dir,
        create_missing=settings.environment == "local",
    )
    return ApiContext(
        settings=settings,
        engine=engine,
        pepper=load_pepper(settings),
        secrets=secrets,
        artifacts=ArtifactRegistry(backend=build_backend(settings.artifacts)),
        temporal=temporal,
    )
