"""Sequential activity round trip through the gateway tunnel vs direct gRPC (prints, asserts nothing).

    PYTHONPATH=. python -m bench.tunnel [--activities 300]

One dev server, one gateway on loopback, one workflow worker (direct). The activity worker runs
once dialling Temporal directly and once through ``TunnelClient`` -> gateway -> authorizing
proxy. A round trip is the gap between the starts of consecutive activities: completion, the
workflow task that schedules the next activity, and the poll that delivers it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.metadata import make_engine, provision_tenant
from activities.settings import TemporalConfig
from console_api.gateway import Gateway, GatewaySettings, consume_enrollment_token, issue_enrollment_token
from mini_connector.tunnel import InMemoryEd25519Signer, TunnelClient, TunnelOptions
from tests.conftest import temporal_binary
from workflows.queues import agent_queue

STARTS: list[float] = []


@activity.defn(name="tick")
async def tick() -> None:
    STARTS.append(time.perf_counter())


@workflow.defn(sandboxed=False)
class Sequential:
    @workflow.run
    async def run(self, args: tuple[str, int]) -> None:
        queue, count = args
        for _ in range(count):
            await workflow.execute_activity(
                "tick", task_queue=queue, start_to_close_timeout=timedelta(seconds=30)
            )


def percentiles(samples: list[float]) -> tuple[float, float]:
    ms = sorted(s * 1000 for s in samples)
    return statistics.median(ms), ms[min(len(ms) - 1, int(len(ms) * 0.99))]


@asynccontextmanager
async def tunnel_client(gw: Gateway, tenant: str, signer: InMemoryEd25519Signer) -> AsyncIterator[Client]:
    options = TunnelOptions(gateway_url=gw.url, tenant=tenant, agent_id="edge-1")
    async with TunnelClient(options, signer) as tunnel:
        await tunnel.wait_connected()
        yield await Client.connect(tunnel.address)


async def measure(env: WorkflowEnvironment, agent: Client, queue: str, count: int) -> list[float]:
    STARTS.clear()
    wf_queue = f"wf-{uuid.uuid4().hex[:6]}"
    async with (
        Worker(
            env.client,
            task_queue=wf_queue,
            workflows=[Sequential],
            workflow_runner=UnsandboxedWorkflowRunner(),
        ),
        Worker(agent, task_queue=queue, activities=[tick]),
    ):
        await env.client.execute_workflow(
            Sequential.run, (queue, count), id=f"bench-{uuid.uuid4().hex[:6]}", task_queue=wf_queue
        )
    gaps = [b - a for a, b in zip(STARTS, STARTS[1:], strict=False)]
    return gaps[10:]  # warm-up


async def main(count: int) -> None:
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=temporal_binary(), ui=False)
    home = Path(tempfile.mkdtemp(prefix="vsc-bench-tunnel-"))
    url = f"sqlite:///{home / 'metadata.db'}"
    engine = make_engine(url)
    tenant = "bench"
    provision_tenant(engine, tenant_id=tenant, name=tenant)
    signer = InMemoryEd25519Signer()
    token = issue_enrollment_token(engine, tenant_id=tenant, agent_id="edge-1")
    consume_enrollment_token(
        engine, token=token, agent_id="edge-1", public_key=signer.public_key_b64(), host="", version=""
    )
    address = env.client.service_client.config.target_host
    settings = GatewaySettings(port=0, metadata_url=url, temporal=TemporalConfig(address=address))
    queue = agent_queue(tenant, "edge-1")
    try:
        async with Gateway(settings, engine=engine) as gw:
            results: dict[str, list[float]] = {}
            for _ in range(2):  # interleave so drift in the dev server hits both equally
                direct = await Client.connect(address)
                results.setdefault("direct", []).extend(await measure(env, direct, queue, count))
                async with tunnel_client(gw, tenant, signer) as through:
                    results.setdefault("gateway", []).extend(await measure(env, through, queue, count))
        print(f"sequential activity round trip, {count} activities x 2 rounds each")
        for name, samples in results.items():
            p50, p99 = percentiles(samples)
            print(f"  {name:8s} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   (n={len(samples)})")
        d50, d99 = percentiles(results["direct"])
        g50, g99 = percentiles(results["gateway"])
        print(f"  overhead p50 {g50 - d50:+.2f} ms   p99 {g99 - d99:+.2f} ms   (targets: +2 ms, +10 ms)")
    finally:
        await env.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--activities", type=int, default=300)
    asyncio.run(main(parser.parse_args().activities))
