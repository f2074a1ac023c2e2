"""Throughput through the agent's tunnel: many activities and many workflows in flight at once.

The sequential round trip (:mod:`bench.tunnel`) shows what one call costs; these show whether the
tunnel keeps up when the worker is busy, which is how a real agent spends a sync:

- **fan-out**: one workflow runs N no-op activities on the agent queue with at most K in flight
  (a semaphore in the workflow), from start to result;
- **workflow throughput** (BENCHMARKS.md O2): W one-activity workflows started together, from the
  first start to the last result.

In both the workflow worker dials Temporal directly (it is the cloud worker); only the activity
worker, the agent's side, switches between a direct connection and the gateway.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

THROUGHPUT_RATIO_TARGET = 0.9
"""O2: work through the tunnel completes at >= 90% of the direct rate."""
_TIMEOUT = timedelta(seconds=120)


class Throughput(BaseModel):
    """Rounds of one measurement: ``count`` units each, the wall seconds of every round."""

    count: int
    seconds: list[float]

    @property
    def per_second(self) -> float:
        """Units completed per second over every round."""
        return self.count * len(self.seconds) / sum(self.seconds)


@activity.defn(name="bench_noop")
async def _noop() -> None:
    return None


@workflow.defn(name="BenchFanout", sandboxed=False)
class _Fanout:
    @workflow.run
    async def run(self, args: tuple[str, int, int]) -> None:
        queue, count, in_flight = args
        gate = asyncio.Semaphore(in_flight)

        async def one() -> None:
            async with gate:
                await workflow.execute_activity(
                    "bench_noop", task_queue=queue, start_to_close_timeout=_TIMEOUT
                )

        await asyncio.gather(*(one() for _ in range(count)))


@workflow.defn(name="BenchOneActivity", sandboxed=False)
class _OneActivity:
    @workflow.run
    async def run(self, queue: str) -> None:
        await workflow.execute_activity("bench_noop", task_queue=queue, start_to_close_timeout=_TIMEOUT)


def _workers(env: WorkflowEnvironment, agent: Client, *, queue: str) -> tuple[Worker, Worker, str]:
    wf_queue = f"wf-{uuid.uuid4().hex[:6]}"
    workflows = Worker(
        env.client,
        task_queue=wf_queue,
        workflows=[_Fanout, _OneActivity],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    return workflows, Worker(agent, task_queue=queue, activities=[_noop]), wf_queue


async def fanout_seconds(
    env: WorkflowEnvironment, agent: Client, *, queue: str, count: int, in_flight: int
) -> float:
    """Wall seconds of one workflow running ``count`` activities, ``in_flight`` at a time."""
    workflows, activities, wf_queue = _workers(env, agent, queue=queue)
    async with workflows, activities:
        started = time.perf_counter()
        await env.client.execute_workflow(
            _Fanout.run, (queue, count, in_flight), id=f"fan-{uuid.uuid4().hex[:8]}", task_queue=wf_queue
        )
        return time.perf_counter() - started


async def workflows_seconds(env: WorkflowEnvironment, agent: Client, *, queue: str, count: int) -> float:
    """Wall seconds from starting ``count`` one-activity workflows together to the last result."""
    workflows, activities, wf_queue = _workers(env, agent, queue=queue)
    async with workflows, activities:
        started = time.perf_counter()
        handles = await asyncio.gather(
            *(
                env.client.start_workflow(
                    _OneActivity.run, queue, id=f"one-{uuid.uuid4().hex[:8]}", task_queue=wf_queue
                )
                for _ in range(count)
            )
        )
        await asyncio.gather(*(h.result() for h in handles))
        return time.perf_counter() - started


class LoadFigures(BaseModel):
    """Both throughput figures of one way of connecting the agent's activity worker."""

    fanout: Throughput
    workflows: Throughput


async def measure_load(
    env: WorkflowEnvironment,
    agents: dict[str, Client],
    *,
    queue: str,
    fanout: int,
    in_flight: int,
    workflows: int,
    rounds: int = 2,
) -> dict[str, LoadFigures]:
    """Both figures for every named agent client, rounds interleaved so drift hits each way equally."""
    fan: dict[str, list[float]] = {way: [] for way in agents}
    many: dict[str, list[float]] = {way: [] for way in agents}
    for _ in range(rounds):
        for way, agent in agents.items():
            fan[way].append(await fanout_seconds(env, agent, queue=queue, count=fanout, in_flight=in_flight))
            many[way].append(await workflows_seconds(env, agent, queue=queue, count=workflows))
    return {
        way: LoadFigures(
            fanout=Throughput(count=fanout, seconds=fan[way]),
            workflows=Throughput(count=workflows, seconds=many[way]),
        )
        for way in agents
    }


__all__ = ["THROUGHPUT_RATIO_TARGET", "LoadFigures", "Throughput", "measure_load"]
