"""The tunnel group of ``make bench``: what the agent's gateway costs, against direct gRPC in the same run.

Five figures, each with its same-run baseline:

- sequential activity round trip: one workflow runs N activities one after another on the agent
  queue; a round trip is the gap between the starts of consecutive activities (completion, the
  workflow task that schedules the next one, and the poll that delivers it). The activity worker
  dials Temporal once directly and once through ``TunnelClient`` -> gateway -> authorizing proxy,
  two interleaved rounds each so drift in the dev server hits both equally;
- unary ``GetSystemInfo`` round trip, direct and through the tunnel;
- fan-out and workflow throughput with many tasks in flight (:mod:`bench.tunnel_load`);
- the gateway's resident memory per connected idle agent: N identities enrolled in one tenant,
  N authenticated sessions opened from this process, the gateway's ``VmRSS`` read from ``/proc``
  before and after.

The gateway runs as its own process (``python -m console_api.gateway``), as in production, so its
RSS is its own and its event loop is not shared with the workers. ``python -m bench.tunnel`` runs
this group alone.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.metadata import make_engine
from bench.gateway import enroll, gateway_process
from bench.tunnel_load import LoadFigures, measure_load
from mini_connector.tunnel import Backoff, InMemoryEd25519Signer, TunnelClient, TunnelOptions
from workflows.queues import agent_queue

P50_BUDGET_MS = 2.0
P99_BUDGET_MS = 10.0
UNARY_P50_BUDGET_MS = 1.0
_STARTS: list[float] = []
_WARMUP = 10


class Latency(BaseModel):
    """p50 and p99 of one measurement in milliseconds, with its sample count."""

    p50_ms: float
    p99_ms: float
    n: int

    @classmethod
    def of(cls, seconds: list[float]) -> Latency:
        """Percentiles of samples given in seconds (p99 is the nearest rank, the max for n < 100)."""
        ms = sorted(s * 1000 for s in seconds)
        return cls(p50_ms=statistics.median(ms), p99_ms=ms[min(len(ms) - 1, int(len(ms) * 0.99))], n=len(ms))


class TunnelSizes(BaseModel):
    """How much work each figure of the tunnel group does (``make bench`` defaults)."""

    activities: int = 300
    """Sequential activities per round (two rounds direct, two through the gateway)."""
    fanout: int = 1000
    """Activities of the fan-out workflow, ``in_flight`` at a time (two rounds each way)."""
    in_flight: int = 100
    workflows: int = 200
    """One-activity workflows started together for the throughput figure."""
    idle_agents: int = 200
    """Idle sessions opened for the memory figure."""


SMOKE_SIZES = TunnelSizes(activities=20, fanout=50, in_flight=10, workflows=10, idle_agents=20)
"""``make bench-smoke`` (inside ``make test``): a few seconds of each figure."""


class TunnelReport(BaseModel):
    """Every figure of the tunnel group, measured in one run."""

    sizes: TunnelSizes
    activity_direct: Latency
    activity_gateway: Latency
    unary_direct: Latency
    unary_gateway: Latency
    load_direct: LoadFigures
    load_gateway: LoadFigures
    rss_before_mib: float
    rss_after_mib: float

    @property
    def mib_per_agent(self) -> float:
        """Gateway RSS growth per connected idle agent."""
        return (self.rss_after_mib - self.rss_before_mib) / self.sizes.idle_agents


@activity.defn(name="tick")
async def _tick() -> None:
    _STARTS.append(time.perf_counter())


@workflow.defn(name="BenchSequential", sandboxed=False)
class _Sequential:
    @workflow.run
    async def run(self, args: tuple[str, int]) -> None:
        queue, count = args
        for _ in range(count):
            await workflow.execute_activity(
                "tick", task_queue=queue, start_to_close_timeout=timedelta(seconds=30)
            )


def rss_mib(pid: int) -> float:
    """Resident set size of process ``pid`` in MiB, from ``/proc/<pid>/status``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


@asynccontextmanager
async def _tunnel(
    url: str, *, tenant: str, agent_id: str, signer: InMemoryEd25519Signer
) -> AsyncIterator[TunnelClient]:
    options = TunnelOptions(
        gateway_url=url, tenant=tenant, agent_id=agent_id, backoff=Backoff(cap_seconds=1.0)
    )
    async with TunnelClient(options, signer) as tunnel:
        await tunnel.wait_connected_or_refused()
        yield tunnel


async def _activity_gaps(env: WorkflowEnvironment, agent: Client, *, queue: str, count: int) -> list[float]:
    _STARTS.clear()
    wf_queue = f"wf-{uuid.uuid4().hex[:6]}"
    async with (
        Worker(
            env.client,
            task_queue=wf_queue,
            workflows=[_Sequential],
            workflow_runner=UnsandboxedWorkflowRunner(),
        ),
        Worker(agent, task_queue=queue, activities=[_tick]),
    ):
        await env.client.execute_workflow(
            _Sequential.run, (queue, count), id=f"bench-{uuid.uuid4().hex[:6]}", task_queue=wf_queue
        )
    gaps = [b - a for a, b in zip(_STARTS, _STARTS[1:], strict=False)]
    return gaps[min(_WARMUP, len(gaps) // 4) :]


async def _unary(client: Client, count: int) -> list[float]:
    samples = []
    for _ in range(count + _WARMUP):
        started = time.perf_counter()
        await client.workflow_service.get_system_info(GetSystemInfoRequest())
        samples.append(time.perf_counter() - started)
    return samples[_WARMUP:]


async def _idle_rss(
    url: str, *, pid: int, tenant: str, signers: list[InMemoryEd25519Signer]
) -> tuple[float, float]:
    """Gateway RSS before and after opening one idle session per signer (agent ``idle-<i>``)."""
    before = rss_mib(pid)
    async with AsyncExitStack() as stack:
        tunnels = [
            await stack.enter_async_context(
                TunnelClient(
                    TunnelOptions(
                        gateway_url=url, tenant=tenant, agent_id=f"idle-{i}", backoff=Backoff(cap_seconds=1.0)
                    ),
                    signer,
                )
            )
            for i, signer in enumerate(signers)
        ]
        await asyncio.wait_for(asyncio.gather(*(t.wait_connected_or_refused() for t in tunnels)), 300)
        await asyncio.sleep(1.0)  # let the gateway finish the sessions' first presence writes
        after = rss_mib(pid)
    return before, after


async def run_tunnel_bench(sizes: TunnelSizes, *, temporal: Path) -> TunnelReport:
    """Start a dev server and a gateway process, measure every figure, stop both.

    Args:
        sizes: How much work each figure does.
        temporal: The ``temporal`` CLI that runs the dev server.
    """
    activities = sizes.activities
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal), ui=False, dev_server_log_level="error"
    )
    try:
        address = env.client.service_client.config.target_host
        with tempfile.TemporaryDirectory(prefix="vsc-bench-tunnel-") as tmp:
            home = Path(tmp)
            engine = make_engine(f"sqlite:///{home / 'metadata.db'}")
            tenant, idle_tenant = "bench", "bench_idle"
            [signer] = await asyncio.to_thread(enroll, engine, tenant=tenant, agent_ids=["edge-1"])
            idle = await asyncio.to_thread(
                enroll, engine, tenant=idle_tenant, agent_ids=[f"idle-{i}" for i in range(sizes.idle_agents)]
            )
            engine.dispose()
            queue = agent_queue(tenant, "edge-1")
            gaps: dict[str, list[float]] = {"direct": [], "gateway": []}
            unary: dict[str, list[float]] = {"direct": [], "gateway": []}
            async with gateway_process(home=home, temporal_address=address) as (url, pid):
                direct = await Client.connect(address)
                async with _tunnel(url, tenant=tenant, agent_id="edge-1", signer=signer) as tunnel:
                    through = await Client.connect(tunnel.address)
                    for _ in range(2):
                        gaps["direct"] += await _activity_gaps(env, direct, queue=queue, count=activities)
                        gaps["gateway"] += await _activity_gaps(env, through, queue=queue, count=activities)
                        unary["direct"] += await _unary(direct, activities)
                        unary["gateway"] += await _unary(through, activities)
                    load = await measure_load(
                        env,
                        {"direct": direct, "gateway": through},
                        queue=queue,
                        fanout=sizes.fanout,
                        in_flight=sizes.in_flight,
                        workflows=sizes.workflows,
                    )
                before, after = await _idle_rss(url, pid=pid, tenant=idle_tenant, signers=idle)
    finally:
        await env.shutdown()
    return TunnelReport(
        sizes=sizes,
        activity_direct=Latency.of(gaps["direct"]),
        activity_gateway=Latency.of(gaps["gateway"]),
        unary_direct=Latency.of(unary["direct"]),
        unary_gateway=Latency.of(unary["gateway"]),
        load_direct=load["direct"],
        load_gateway=load["gateway"],
        rss_before_mib=before,
        rss_after_mib=after,
    )


def main() -> None:
    """``python -m bench.tunnel``: run the tunnel group alone and print its table."""
    from rich.console import Console

    from bench.tunnel_report import print_tunnel

    parser = argparse.ArgumentParser(prog="python -m bench.tunnel", description=__doc__.splitlines()[0])
    for name, default in TunnelSizes().model_dump().items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=default)
    parser.add_argument("--temporal", type=Path, default=Path(sys.executable).parent / "temporal")
    args = parser.parse_args()
    sizes = TunnelSizes(**{name: getattr(args, name) for name in TunnelSizes.model_fields})
    report = asyncio.run(run_tunnel_bench(sizes, temporal=args.temporal))
    print_tunnel(Console(), report)


if __name__ == "__main__":
    main()
