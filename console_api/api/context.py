"""What one API process holds for its lifetime: settings, engine, pepper, secret store, Temporal clients.

One Temporal connection serves every tenant; each tenant gets a client on it with its own payload
codec (payload encryption on), so executions are started with the caller's tenant key.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy import Engine
from temporalio.client import Client

from activities.crypto import Keyring, LocalKeyring, load_master_key
from activities.metadata import make_engine
from activities.payload_codec import TenantPayloadCodec, encrypting_client
from activities.wiring import payload_keyring
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
    payload_keys: Keyring | None = None
    """The tenants' payload keyring; ``None`` when payload encryption is off."""
    temporal: Client | None = None
    _connect_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _tenant_clients: dict[str, Client] = field(default_factory=dict)

    async def temporal_client(self, tenant: str) -> Client:
        """``tenant``'s Temporal client, connected on first use so the API starts while Temporal is down."""
        async with self._connect_lock:
            if self.temporal is None:
                self.temporal = await Client.connect(
                    self.settings.temporal.address,
                    namespace=self.settings.temporal.namespace,
                    data_converter=DATA_CONVERTER,
                )
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
    master = load_master_key(
        env_value=settings.master_key.get_secret_value() if settings.master_key else None,
        keyfile=settings.master_keyfile,
        create_missing=settings.environment == "local",
    )
    keyring = LocalKeyring(settings.secret_keyring_dir, master)
    payload_keys = (
        payload_keyring(keyring_dir=settings.payload_keyring_dir, master_key=master)
        if settings.payload_encryption
        else None
    )
    return ApiContext(
        settings=settings,
        engine=engine,
        pepper=load_pepper(settings),
        secrets=SealedSecretStore(keyring=keyring),
        payload_keys=payload_keys,
        temporal=temporal,
    )
