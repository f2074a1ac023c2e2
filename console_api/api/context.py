"""What one API process holds for its lifetime: settings, stores, pepper, artifacts, Temporal clients, limits.

One Temporal connection serves every tenant; each tenant gets a client on it with its own payload
codec (payload encryption on), so executions are started with the caller's tenant key.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy import Engine
from temporalio.client import Client

from activities.artifacts import ArtifactRegistry
from activities.crypto import Keyring, load_master_key
from activities.errors import TemporalUnavailableError
from activities.metadata import make_engine
from activities.payload_codec import TenantPayloadCodec, encrypting_client
from activities.secrets import SecretStore
from activities.wiring import build_backend, build_secret_store, payload_keyring
from console_api.api.quotas import RateLimiter
from console_api.api.settings import ApiSettings
from sdkgen.runtime import DialGuard, Resolver, system_resolver
from workflows.converter import DATA_CONVERTER


@dataclass
class ApiContext:
    """Long-lived resources shared by all requests (kept on ``app.state.ctx``)."""

    settings: ApiSettings
    engine: Engine
    pepper: bytes = field(repr=False)
    secrets: SecretStore
    artifacts: ArtifactRegistry
    payload_keys: Keyring | None = None
    """The tenants' payload keyring; ``None`` when payload encryption is off."""
    temporal: Client | None = None
    limiter: RateLimiter = field(default_factory=RateLimiter)
    """Per-tenant request rate of this process (tier ``api_calls_per_minute``)."""
    spec_resolver: Resolver = system_resolver
    """Name resolution for spec URLs the console fetches (tests inject their own)."""
    spec_dial_guard: DialGuard | None = None
    """Called before each dial of a spec fetch; tests fence the network with it."""
    _connect_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _tenant_clients: dict[str, Client] = field(default_factory=dict)

    async def temporal_client(self, tenant: str) -> Client:
        """``tenant``'s Temporal client, connected on first use so the API starts while Temporal is down."""
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
            if self.payload_keys is None:
                return self.temporal
            client = self._tenant_clients.get(tenant)
            if client is None:
                client = encrypting_client(self.temporal, tenant=tenant, keyring=self.payload_keys)
                self._tenant_clients[tenant] = client
            return client

    def payload_codec(self, tenant: str) -> TenantPayloadCodec | None:
        """``tenant``'s payload codec (for the codec server), or ``None`` with payload encryption off."""
        if self.payload_keys is None:
            return None
        return TenantPayloadCodec(tenant=tenant, keyring=self.payload_keys)


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
    payload_keys = None
    if settings.payload_encryption:
        master = load_master_key(
            env_value=settings.master_key.get_secret_value() if settings.master_key else None,
            keyfile=settings.master_keyfile,
            create_missing=settings.environment == "local",
        )
        payload_keys = payload_keyring(keyring_dir=settings.payload_keyring_dir, master_key=master)
    return ApiContext(
        settings=settings,
        engine=engine,
        pepper=load_pepper(settings),
        secrets=secrets,
        artifacts=ArtifactRegistry(backend=build_backend(settings.artifacts)),
        payload_keys=payload_keys,
        temporal=temporal,
    )
