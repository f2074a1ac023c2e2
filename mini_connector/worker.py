"""The agent's Temporal worker: serves ``vsc.<tenant>.agent.<agent_id>``.

The connection bootstrap is isolated in :func:`connect` so the outbound WebSocket tunnel can
replace the direct dial without touching workflows or activities. Run with
``python -m mini_connector.worker``.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.worker import Worker

from activities.connections import registry_loader
from activities.sync_steps import SyncSteps
from activities.wiring import build_buffer
from mini_connector.settings import AgentSettings
from workflows.converter import DATA_CONVERTER
from workflows.queues import agent_queue

log = logging.getLogger("vsc.agent")


async def connect(settings: AgentSettings) -> Client:
    """Open the agent's Temporal connection (direct today; through the gateway tunnel later)."""
    return await Client.connect(
        settings.temporal.address, namespace=settings.temporal.namespace, data_converter=DATA_CONVERTER
    )


def build_worker(client: Client, settings: AgentSettings, executor: ThreadPoolExecutor) -> Worker:
    """The agent worker with its activities; it registers no workflows."""
    steps = SyncSteps(
        connections=registry_loader(settings.connections_file), buffer=build_buffer(settings.buffer)
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
    client = await connect(settings)
    with ThreadPoolExecutor(max_workers=settings.max_concurrent_activities) as executor:
        worker = build_worker(client, settings, executor)
        log.info("agent worker serving %s", worker.task_queue)
        await worker.run()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(main())
