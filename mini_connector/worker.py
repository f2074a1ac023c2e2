"""The agent's Temporal worker: serves ``vsc.<tenant>.agent.<agent_id>``.

The connection bootstrap is isolated in :func:`connect`: through the outbound WebSocket tunnel
when a gateway is configured, else a direct dial; workflows and activities never know which.
Where credentials come from and who signs the gateway challenge are the caller's choice:
``vsc-agent run`` passes the vault's registry and key, tests pass their own. ``python -m
mini_connector.worker`` is the direct-dial development worker with a JSON registry (no gateway).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from weakref import WeakKeyDictionary

from temporalio.client import Client
from temporalio.common import WorkerDeploymentVersion
from temporalio.converter import DataConverter
from temporalio.worker import Worker, WorkerDeploymentConfig

from activities.api_calls import ApiCalls
from activities.api_sources import ArtifactSource, BackendArtifacts, MappingSecrets, SecretSource
from activities.api_specs import fetch_spec
from activities.bidi_steps import BidiSteps
from activities.buffer import BufferStore, DirectoryBackend
from activities.connections import ConnectionRegistry, registry_loader
from activities.crypto import Keyring
from activities.errors import GatewayRefusedError, InvalidInputError
from activities.payload_codec import encrypting_converter
from activities.sync_steps import HEARTBEAT_THROTTLE, SyncSteps
from activities.wiring import build_buffer, build_payload_keyring
from mini_connector.artifact_cache import ArtifactCache
from mini_connector.enroll import agent_version
from mini_connector.gateway_artifacts import GatewayArtifacts
from mini_connector.gateway_buffer import GatewayChannel, build_gateway_buffer, gateway_payload_keyring
from mini_connector.settings import AgentSettings
from mini_connector.tunnel import Backoff, Signer, TunnelClient, TunnelOptions
from workflows.converter import DATA_CONVERTER
from workflows.queues import agent_queue

log = logging.getLogger("vsc.agent")
AGENT_DEPLOYMENT = "vsc-agent"
"""The deployment name agents report beside their package version (docs/deploy.md)."""
_TUNNELS: WeakKeyDictionary[Client, TunnelClient] = WeakKeyDictionary()
"""The tunnel behind each client :func:`connect` made, so the buffer can use the same session."""

RegistrySource = Callable[[], ConnectionRegistry]
"""Returns the agent's current connection registry; called per activity, so it may re-read."""


def json_registry(settings: AgentSettings) -> RegistrySource:
    """The registry in ``settings.connections_file`` (development and tests; the vault replaces it)."""
    return registry_loader(settings.connections_file)


def _tunnel_options(settings: AgentSettings, gateway_url: str, registry: RegistrySource) -> TunnelOptions:
    ssl_context = None
    if settings.gateway_ca_file is not None:
        ssl_context = ssl.create_default_context(cafile=str(settings.gateway_ca_file))
    return TunnelOptions(
        gateway_url=gateway_url,
        tenant=settings.tenant,
        agent_id=settings.agent_id,
        version=agent_version(),
        host=socket.gethostname(),
        endpoints=registry().names(),
        ssl_context=ssl_context,
        backoff=Backoff(cap_seconds=settings.reconnect_cap_seconds),
        ping_interval=settings.gateway_ping_interval,
        ping_timeout=settings.gateway_ping_timeout,
    )


class AgentConnection:
    """The agent's Temporal client plus, through a gateway, the tunnel that carries it."""

    def __init__(self, client: Client, tunnel: TunnelClient | None) -> None:
        self.client = client
        self.tunnel = tunnel

    async def refused(self) -> GatewayRefusedError:
        """Wait until the gateway refuses this agent for good (revoked, unknown); never without one."""
        if self.tunnel is None:
            await asyncio.Future()
        assert self.tunnel is not None
        return await self.tunnel.wait_refused()


def _converter(settings: AgentSettings, keyring: Keyring | None) -> DataConverter:
    """The agent's data converter: its tenant's payload codec unless payload encryption is off."""
    if not settings.payload_encryption or keyring is None:
        return DATA_CONVERTER
    return encrypting_converter(tenant=settings.tenant, keyring=keyring)


@asynccontextmanager
async def open_connection(
    settings: AgentSettings, *, signer: Signer | None = None, registry: RegistrySource | None = None
) -> AsyncIterator[AgentConnection]:
    """Like :func:`connect`, but also exposes the tunnel so callers can stop on a final refusal.

    Raises:
        InvalidInputError: A gateway is configured but no signer was given.
        GatewayRefusedError: The gateway refused the agent for good before the first session.
    """
    if settings.gateway_url is None:
        keyring: Keyring | None = (
            build_payload_keyring(settings.buffer, keyring_dir=settings.payload_keyring_dir)
            if settings.payload_encryption
            else None
        )
        client = await Client.connect(
            settings.temporal.address,
            namespace=settings.temporal.namespace,
            data_converter=_converter(settings, keyring),
        )
        yield AgentConnection(client, None)
        return
    if signer is None:
        raise InvalidInputError(
            "a gateway needs the agent's key to sign its challenge: run the agent with `vsc-agent run`"
        )
    options = _tunnel_options(settings, settings.gateway_url, registry or json_registry(settings))
    async with TunnelClient(options, signer) as tunnel:
        await tunnel.wait_connected_or_refused()
        keyring = gateway_payload_keyring(tunnel, asyncio.get_running_loop())
        client = await Client.connect(
            tunnel.address,
            namespace=settings.temporal.namespace,
            data_converter=_converter(settings, keyring),
        )
        _TUNNELS[client] = tunnel
        yield AgentConnection(client, tunnel)


@asynccontextmanager
async def connect(
    settings: AgentSettings, *, signer: Signer | None = None, registry: RegistrySource | None = None
) -> AsyncIterator[Client]:
    """The agent's Temporal client, open for the duration of the block.

    With ``gateway_url`` set, the client talks only to the loopback port of the agent's own
    tunnel, which carries its gRPC to the gateway; ``signer`` proves the agent's identity there
    and ``registry`` names the endpoints it reports. Without a gateway it dials
    ``temporal.address`` directly.
    """
    async with open_connection(settings, signer=signer, registry=registry) as connection:
        yield connection.client


def _agent_buffer(client: Client, settings: AgentSettings) -> BufferStore:
    """Through the gateway session when a gateway is named (no local store or keys), else local."""
    if settings.gateway_url is None:
        return build_buffer(settings.buffer)
    return build_gateway_buffer(
        settings.buffer, tenant=settings.tenant, tunnel=_TUNNELS.get(client), loop=asyncio.get_running_loop()
    )


def agent_artifacts(client: Client, settings: AgentSettings) -> ArtifactSource:
    """Through the gateway session (verified, cached under ``home``) when a gateway is named.

    Without one (the direct-dial development worker) from a local, hash-checked copy of the
    registry in ``<home>/artifacts``.

    Raises:
        InvalidInputError: A gateway is named but there is no session to fetch through.
    """
    if settings.gateway_url is None:
        return BackendArtifacts(DirectoryBackend(settings.home / "artifacts"))
    tunnel = _TUNNELS.get(client)
    if tunnel is None:
        raise InvalidInputError("the agent names a gateway but has no gateway session for its SDK artifacts")
    cache = (
        ArtifactCache(settings.artifact_cache_dir, max_bytes=settings.artifact_cache_bytes)
        if settings.artifact_cache_bytes
        else None
    )
    return GatewayArtifacts(GatewayChannel(tunnel, asyncio.get_running_loop()), cache=cache)


def _task_queue(client: Client, settings: AgentSettings) -> str:
    """The queue the gateway granted (an agent group's, chosen at enrollment), else the agent's own."""
    tunnel = _TUNNELS.get(client)
    if tunnel is not None and tunnel.queues:
        return tunnel.queues[0]
    return agent_queue(settings.tenant, settings.agent_id)


def build_worker(
    client: Client,
    settings: AgentSettings,
    executor: ThreadPoolExecutor,
    *,
    registry: RegistrySource | None = None,
    api_secrets: SecretSource | None = None,
) -> Worker:
    """The agent worker with its activities (syncs, and fetching local spec URLs); it registers no workflows.

    ``registry`` defaults to the JSON file of ``settings.connections_file``; ``api_secrets``
    (``vsc-agent run``: the vault's, :class:`~mini_connector.vault_secrets.VaultSecrets`) to none,
    so a flow naming a credential fails with ConnectionNotFoundError. SDK artifacts come through
    the gateway session when one is configured.
    """
    connections = registry or json_registry(settings)
    buffer = _agent_buffer(client, settings)
    steps = SyncSteps(connections=connections, buffer=buffer)
    bidi = BidiSteps(connections=connections, buffer=buffer)
    api = ApiCalls(
        runs_on="agent",
        artifacts=agent_artifacts(client, settings),
        secrets=api_secrets or MappingSecrets(dict),
        buffer=buffer,
        connections=lambda _tenant: connections(),  # its queue is its own tenant's
    )
    return Worker(
        client,
        task_queue=_task_queue(client, settings),
        # fetch_spec: the console has the agent read spec URLs of local-only APIs.
        activities=[*steps.all(), *bidi.all(), *api.all(), fetch_spec],
        activity_executor=executor,
        max_concurrent_activities=settings.max_concurrent_activities,
        max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
        # Reported, not versioned: activities are never replayed, so an agent of any build may run
        # any activity task; the version only tells operators which build ran it.
        deployment_config=WorkerDeploymentConfig(
            version=WorkerDeploymentVersion(deployment_name=AGENT_DEPLOYMENT, build_id=agent_version()),
            use_worker_versioning=False,
        ),
    )


async def serve_agent(
    settings: AgentSettings,
    *,
    signer: Signer | None = None,
    registry: RegistrySource | None = None,
    api_secrets: SecretSource | None = None,
) -> None:
    """Serve the agent queue until cancelled, reconnecting through the gateway as needed.

    Raises:
        GatewayRefusedError: The gateway refused the agent for good (revoked, unknown agent,
            key mismatch); the worker is stopped first.
    """
    registry = registry or json_registry(settings)
    async with open_connection(settings, signer=signer, registry=registry) as connection:
        with ThreadPoolExecutor(max_workers=settings.max_concurrent_activities) as executor:
            worker = build_worker(
                connection.client, settings, executor, registry=registry, api_secrets=api_secrets
            )
            log.info("agent worker serving %s", worker.task_queue)
            running = asyncio.create_task(worker.run())
            refused = asyncio.create_task(connection.refused())
            await asyncio.wait({running, refused}, return_when=asyncio.FIRST_COMPLETED)
            if refused.done():
                running.cancel()
                # the tunnel is gone, so a graceful shutdown cannot reach Temporal: do not wait long
                with contextlib.suppress(asyncio.CancelledError, TimeoutError, Exception):
                    await asyncio.wait_for(running, 5)
                raise refused.result()
            refused.cancel()
            await running


async def main(settings: AgentSettings | None = None) -> None:
    """Serve the agent queue, dialing Temporal directly, with the JSON registry."""
    await serve_agent(settings or AgentSettings())


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(main())
