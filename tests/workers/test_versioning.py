"""Worker Deployment Versioning: a deploy of incompatible workflow code never breaks a running execution.

Real dev server throughout. The first test deploys two builds of one workflow type whose code
differs incompatibly (B adds a timer A's histories do not have); the second runs a real sync on a
versioned cloud worker that promotes itself at start.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowContinuedAsNewError, WorkflowHandle
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker
from temporalio.workflow import NondeterminismError

from infra.demo.load import create_and_load
from tests.workers.gate_workflows import GATE, GateA, GateB
from tests.workflows.harness import Tenant, running
from workers.versioning import PromotionError, current_build_id, deployment_config, promote, version_states
from workers.versioning import workflow_build_id as code_build_id
from workflows.sync_types import SyncResult


async def gate(client: Client, queue: str) -> WorkflowHandle:
    return await client.start_workflow(GATE, False, id=f"gate-{uuid.uuid4().hex[:10]}", task_queue=queue)


async def completed_on(handle: WorkflowHandle) -> set[str]:
    """The build ids of every completed workflow task in the run's history."""
    return {
        e.workflow_task_completed_event_attributes.deployment_version.build_id
        async for e in handle.fetch_history_events()
        if e.HasField("workflow_task_completed_event_attributes")
    }


async def test_running_execution_finishes_on_its_build_new_ones_start_on_the_promoted(
    env: WorkflowEnvironment,
) -> None:
    client = env.client
    deployment, queue = f"vsc-test-{uuid.uuid4().hex[:8]}", f"versioning-{uuid.uuid4().hex[:8]}"
    a, b = WorkerDeploymentVersion(deployment, "a"), WorkerDeploymentVersion(deployment, "b")
    async with Worker(client, task_queue=queue, workflows=[GateA], deployment_config=deployment_config(a)):
        await promote(client, a)
        finishing, continuing = await gate(client, queue), await gate(client, queue)
        for started in (finishing, continuing):
            assert await started.execute_update("build", result_type=str) == "a"

        async with Worker(
            client, task_queue=queue, workflows=[GateB], deployment_config=deployment_config(b)
        ):
            await promote(client, b)
            assert await current_build_id(client, deployment) == "b"
            fresh = await gate(client, queue)
            assert await fresh.execute_update("build", result_type=str) == "b"

            await finishing.signal("open")
            assert await finishing.result() == "a:False"
            assert await completed_on(finishing) == {"a"}
            # A's history does not replay on B: without pinning the deploy would have broken it.
            replayed = await Replayer(workflows=[GateB]).replay_workflow(
                await finishing.fetch_history(), raise_on_replay_failure=False
            )
            assert isinstance(replayed.replay_failure, NondeterminismError)

            # Continue-as-new with AUTO_UPGRADE: the next run of a long one starts on B.
            first_run = client.get_workflow_handle(continuing.id, run_id=continuing.first_execution_run_id)
            await first_run.signal("again")
            with pytest.raises(WorkflowContinuedAsNewError):
                await first_run.result(follow_runs=False)
            assert await completed_on(first_run) == {"a"}
            latest = client.get_workflow_handle(continuing.id)
            assert await latest.execute_update("build", result_type=str) == "b"
            await latest.signal("open")
            assert await latest.result() == "b:True"
            assert await completed_on(latest) == {"b"}

            await fresh.signal("open")
            assert await fresh.result() == "b:False"
            assert await version_states(client, deployment) == {"a": "draining", "b": "current"}

    # A version no worker ever polled cannot be made current (nothing would serve its runs).
    with pytest.raises(PromotionError, match="no worker of .*polled within"):
        await promote(client, WorkerDeploymentVersion(deployment, "never-started"), register_within=0.3)


async def test_versioned_cloud_worker_promotes_itself_and_pins_each_run_of_a_sync(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str]
) -> None:
    src, dst = pg_database("erp"), pg_database("dw")
    create_and_load(src, scale=0.02)
    tenant = Tenant(client=env.client, home=tmp_path, worker_versioning=True)
    tenant.agent_connections = [
        {"name": "erp", "kind": "postgresql", "url": src},
        {"name": "dw", "kind": "postgresql", "url": dst, "write": True},
    ]
    body = {
        "agent": tenant.agent,
        "source_connection": "erp",
        "destination_connection": "dw",
        "tables": [{"source_table": "orders", "incremental_column": "updated_at"}],
        "limits": {"batch_rows": 100, "max_rows": 250},
        "max_steps_per_run": 1,
    }
    async with running(tenant):
        handle = await tenant.start("LocalToLocalSync", body)
        result: SyncResult = await handle.result()
        runs = [w async for w in env.client.list_workflows(f"WorkflowId = '{handle.id}'")]
        infos = [
            (await env.client.get_workflow_handle(handle.id, run_id=r.run_id).describe()).raw_description
            for r in runs
        ]
    table = result.tables[0]
    assert table.verified
    assert table.rows_read == table.source.rows == table.rows_written  # type: ignore[union-attr]
    assert len(runs) >= 2  # 500 orders at 250 a run: at least one continue-as-new
    build = code_build_id()
    for info in infos:
        versioning = info.workflow_execution_info.versioning_info
        assert versioning.deployment_version.deployment_name == "vsc-cloud"
        assert versioning.deployment_version.build_id == build
        assert versioning.behavior == VersioningBehavior.PINNED.value
