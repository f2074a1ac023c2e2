"""The agent's Temporal worker: serves ``vsc.<tenant>.agent.<agent_id>``.

The connection bootstrap is isolated in :func:`connect`: through the outbound WebSocket tunnel
when a gateway is configured, else a direct dial; workflows and activities never know which. Run with
``python -m mini_connector.worker``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from weakref import WeakKeyDictionary

from temporalio.client import Client
from temporalio.worker import Worker

from activities.buffer import BufferStore
from activities.connections import registry_loader
from activities.errors import InvalidInputError
from activities.sync_steps import SyncSteps
from activities.wiring import build_buffer
from mini_connector.gateway_buffer import build_gateway_buffer
from mini_connector.settings import AgentSettings
from mini_connector.tunnel import Backoff, Signer, TunnelClient, TunnelOptions
from mini_connector.tunnel.signer import load_pem_signer
from workflows.converter import DATA_CONVERTER
from workflows.queues import agent_queue

log = logging.getLogger("vsc.agent")
_TUNNELS: WeakKeyDictionary[Client, TunnelClient] = WeakKeyDictionary()
"""The tunnel behind each client :func:`connect` made, so the buffer can use the same session."""


def _tunnel_options(settings: AgentSettings, gateway_url: str) -> TunnelOptions:
    ssl_context = None
    if settings.gateway_ca_file is not None:
        ssl_context = ssl.create_default_context(cafile=str(settings.gateway_ca_file))
    return TunnelOptions(
        gateway_url=gateway_url,
        tenant=settings.tenant,
        agent_id=settings.agent_id,
        host=socket.gethostname(),
        endpoints=registry_loader(settings.connections_file)().names(),
        ssl_context=ssl_context,
        backoff=Backoff(cap_seconds=settings.reconnect_cap_seconds),
        ping_interval=settings.gateway_ping_interval,
        ping_timeout=settings.gateway_ping_timeout,
    )


@asynccontextmanager
async def connect(settings: AgentSettings, *, signer: Signer | None = None) -> AsyncIterator[Client]:
    """The agent's Temporal client, open for the duration of the block.

    With ``gateway_url`` set, the client talks only to the loopback port of the agent's own
    tunnel, which carries its gRPC to the gateway; ``signer`` (default: ``identity_key_file``)
    proves the agent's identity there. Without a gateway it dials ``temporal.address`` directly.
    """
    if settings.gateway_url is None:
        yield await Client.connect(
            settings.temporal.address, namespace=settings.temporal.namespace, data_converter=DATA_CONVERTER
        )
        return
    if signer is None:
        if settings.identity_key_file is None:
            raise InvalidInputError("a gateway_url needs the agent's identity_key_file (or a signer)")
        signer = load_pem_signer(settings.identity_key_file)
    async with TunnelClient(_tunnel_options(settings, settings.gateway_url), signer) as tunnel:
        await tunnel.wait_connected()
        client = await Client.connect(
            tunnel.address, namespace=settings.temporal.namespace, data_converter=DATA_CONVERTER
        )
        _TUNNELS[client] = tunnel
        yield client


def _agent_buffer(client: Client, settings: AgentSettings) -> BufferStore:
    """Through the gateway session when a gateway is named (no local store or keys), else local."""
    if settings.gateway_url is None:
        return build_buffer(settings.buffer)
    return build_gateway_buffer(
        settings.buffer, tenant=settings.tenant, tunnel=_TUNNELS.get(client), loop=asyncio.get_running_loop()
    )


def build_worker(client: Client, settings: AgentSettings, executor: ThreadPoolExecutor) -> Worker:
    """The agent worker with its activities; it registers no workflows."""
    steps = SyncSteps(
        connections=registry_loader(settings.connections_file), buffer=_agent_buffer(client, settings)
    )
    return Worker(
        client,
        task_queue=agent_queue(settings.tenant, settings.agent_id),
        activities=steps.all(),
        activity_executor=executor,
        max_concurrent_activities=settings.max_concurrent_activities,
    )


async def main(settings: AgentSettings | None = None) -> None:
    """Serve the agent queue until cancelled."""
    settings = settings or AgentSettings()
    async with connect(settings) as client:
        with ThreadPoolExecutor(max_workers=settings.max_concurrent_activities) as executor:
            worker = build_worker(client, settings, executor)
            log.info("agent worker serving %s", worker.task_queue)
            await worker.run()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(main())
