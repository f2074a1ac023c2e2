"""What one API process holds for its lifetime: settings, engine, pepper, secrets, Temporal, rate limiter."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy import Engine
from temporalio.client import Client

from activities.crypto import LocalKeyring, load_master_key
from activities.metadata import make_engine
from console_api.api.quotas import RateLimiter
from console_api.api.secret_store import SealedSecretStore, SecretStore
from console_api.api.settings import ApiSettings
from workflows.converter import DATA_CONVERTER


@dataclass
class ApiContext:
    """Long-lived resources shared by all requests (kept on ``app.state.ctx``)."""

    settings: ApiSettings
    engine: Engine
    pepper: bytes = field(repr=False)
    secrets: SecretStore
    temporal: Client | None = None
    limiter: RateLimiter = field(default_factory=RateLimiter)
    """Per-tenant request rate of this process (tier ``api_calls_per_minute``)."""
    _connect_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def temporal_client(self) -> Client:
        """The Temporal client, connected on first use so the API starts while Temporal is down."""
        async with self._connect_lock:
            if self.temporal is None:
                self.temporal = await Client.connect(
                    self.settings.temporal.address,
                    namespace=self.settings.temporal.namespace,
                    data_converter=DATA_CONVERTER,
                )
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
    master = load_master_key(
        env_value=settings.master_key.get_secret_value() if settings.master_key else None,
        keyfile=settings.master_keyfile,
        create_missing=settings.environment == "local",
    )
    keyring = LocalKeyring(settings.secret_keyring_dir, master)
    return ApiContext(
        settings=settings,
        engine=engine,
        pepper=load_pepper(settings),
        secrets=SealedSecretStore(keyring=keyring),
        temporal=temporal,
    )
