"""In-process cloud and agent workers on a fresh tenant, for workflow integration tests."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from activities.api_sources import SecretSource
from activities.crypto import LocalKeyring
from activities.payload_codec import encrypting_client
from activities.settings import BufferConfig, TemporalConfig
from activities.wiring import build_payload_keyring
from mini_connector.settings import AgentSettings
from mini_connector.worker import build_worker
from workers.cloud import build_workers, promote_at_start
from workers.settings import CloudSettings
from workflows.queues import cloud_queue
from workflows.sync_types import SyncResult

HISTORIES = Path(__file__).resolve().parents[1] / "replay" / "histories"


@dataclass
class Tenant:
    """A tenant with its own queues, home directory and connection registries."""

    client: Client
    home: Path
    name: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}")
    agent: str = "edge-1"
    agent_connections: list[dict[str, Any]] = field(default_factory=list)
    cloud_connections: list[dict[str, Any]] = field(default_factory=list)
    buffer: BufferConfig | None = None
    payload_encryption: bool = False
    """Off by default: ``client`` (the session's ``env`` client) uses the plain converter."""
    api_private_origins: list[str] = field(default_factory=list)
    """Loopback "internet" APIs the cloud worker may call (Mode 2 tests)."""
    agent_api_secrets: SecretSource | None = None
    """The agent vault's API secrets (Mode 2 tests); None: the agent has none."""
    worker_versioning: bool = False
    """Off by default: tenants share the session's server, and one deployment for all would couple them."""

    def buffer_config(self) -> BufferConfig:
        return self.buffer or BufferConfig(
            directory=self.home / "buffer",
            keyring_dir=self.home / "keys",
            master_keyfile=self.home / "master.key",
        )

    def write_registries(self) -> None:
        (self.home / "agent.json").write_text(json.dumps({"connections": self.agent_connections}))
        (self.home / "cloud.json").write_text(json.dumps({"connections": self.cloud_connections}))

    def temporal(self) -> TemporalConfig:
        return TemporalConfig(
            address=self.client.service_client.config.target_host, namespace=self.client.namespace
        )

    def cloud_settings(self) -> CloudSettings:
        return CloudSettings(
            home=self.home,
            tenants=[self.name],
            temporal=self.temporal(),
            buffer=self.buffer_config(),
            metadata_url=f"sqlite:///{self.home / 'metadata.db'}",
            connections_file=self.home / "cloud.json",
            payload_encryption=self.payload_encryption,
            api_private_origins=self.api_private_origins,
            worker_versioning=self.worker_versioning,
        )

    def agent_settings(self) -> AgentSettings:
        return AgentSettings(
            tenant=self.name,
            agent_id=self.agent,
            home=self.home,
            temporal=self.temporal(),
            buffer=self.buffer_config(),
            connections_file=self.home / "agent.json",
            payload_encryption=self.payload_encryption,
        )

    def agent_env(self) -> dict[str, str]:
        """The agent's settings as environment variables, for running it as a separate process."""
        s = self.agent_settings()
        return {
            "VSC_AGENT_TENANT": s.tenant,
            "VSC_AGENT_AGENT_ID": s.agent_id,
            "VSC_AGENT_TEMPORAL__ADDRESS": s.temporal.address,
            "VSC_AGENT_TEMPORAL__NAMESPACE": s.temporal.namespace,
            "VSC_AGENT_BUFFER__DIRECTORY": str(s.buffer.directory),
            "VSC_AGENT_BUFFER__KEYRING_DIR": str(s.buffer.keyring_dir),
            "VSC_AGENT_BUFFER__MASTER_KEYFILE": str(s.buffer.master_keyfile),
            "VSC_AGENT_CONNECTIONS_FILE": str(s.connections_file),
            "VSC_AGENT_PAYLOAD_ENCRYPTION": str(s.payload_encryption).lower(),
        }

    def payload_keyring(self) -> LocalKeyring:
        """The tenant's payload keyring, the one its workers use with payload encryption on."""
        return build_payload_keyring(self.buffer_config(), keyring_dir=self.home / "payload-keys")

    def encrypting_client(self) -> Client:
        """A client on ``client``'s connection with the tenant's payload codec."""
        return encrypting_client(self.client, tenant=self.name, keyring=self.payload_keyring())

    async def start(self, workflow: str, body: dict[str, Any], *, wid: str | None = None) -> WorkflowHandle:
        return await self.client.start_workflow(
            workflow,
            body,
            id=wid or f"{workflow}-{uuid.uuid4().hex[:10]}",
            task_queue=cloud_queue(self.name),
            result_type=SyncResult,
        )


@asynccontextmanager
async def running(tenant: Tenant, *, agent: bool = True, cloud: bool = True) -> AsyncIterator[list[Worker]]:
    """Run the tenant's cloud worker and (unless it runs as a separate process) its agent worker."""
    tenant.write_registries()
    executor = ThreadPoolExecutor(max_workers=8)
    workers: list[Worker] = []
    if cloud:
        workers += build_workers(tenant.client, tenant.cloud_settings(), executor)
    if agent:
        client = tenant.encrypting_client() if tenant.payload_encryption else tenant.client
        workers.append(
            build_worker(client, tenant.agent_settings(), executor, api_secrets=tenant.agent_api_secrets)
        )
    async with AsyncExitStack() as stack:
        for w in workers:
            await stack.enter_async_context(w)
        if cloud:
            await promote_at_start(tenant.client, tenant.cloud_settings())
        yield workers
    executor.shutdown(wait=False, cancel_futures=True)


async def record_history(handle: WorkflowHandle, workflow: str, scenario: str) -> None:
    """Save the run's history for the replay suite when VSC_RECORD_HISTORIES=1."""
    if os.environ.get("VSC_RECORD_HISTORIES") != "1":
        return
    history = await handle.fetch_history()
    path = HISTORIES / workflow / f"{scenario}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(history.to_json())
