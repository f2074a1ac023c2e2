"""``vsc deploy`` against the real Temporal server, invoked in-process (each command runs its own loop)."""

from __future__ import annotations

import asyncio
import uuid

from click.testing import Result
from temporalio.common import WorkerDeploymentVersion
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from typer.testing import CliRunner

from console_api.cli import app
from tests.workers.gate_workflows import GATE, GateA
from workers.versioning import current_build_id, deployment_config, workflow_build_id


async def vsc(*args: str) -> Result:
    """``vsc ARGS`` in a thread: the commands call ``asyncio.run``, which needs a thread without a loop."""
    return await asyncio.to_thread(CliRunner().invoke, app, list(args))


async def test_deploy_promotes_a_started_version_shows_it_and_refuses_one_never_started(
    env: WorkflowEnvironment,
) -> None:
    client = env.client
    at = ("--address", client.service_client.config.target_host)
    # The "shared" pool's deployment: no other test of the session versions it.
    build = f"b{uuid.uuid4().hex[:8]}"
    version = WorkerDeploymentVersion("vsc-cloud-shared", build)
    queue = f"deploy-cli-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client, task_queue=queue, workflows=[GateA], deployment_config=deployment_config(version)
    ):
        promoted = await vsc("deploy", "promote", "--build-id", build, "--pool", "shared", *at)
        assert promoted.exit_code == 0, promoted.output
        assert f"vsc-cloud-shared.{build} is current" in promoted.output
        assert await current_build_id(client, "vsc-cloud-shared") == build
        handle = await client.start_workflow(GATE, False, id=f"gate-{uuid.uuid4().hex[:8]}", task_queue=queue)
        assert await handle.execute_update("build", result_type=str) == "a"

        shown = await vsc("deploy", "status", "--pool", "shared", *at)
        assert shown.exit_code == 0, shown.output
        assert [line.split() for line in shown.output.splitlines() if build in line] == [
            ["│", build, "│", "current", "│"]
        ], shown.output

        refused = await vsc(
            "deploy", "promote", "--build-id", "never-started", "--pool", "shared", "--wait", "0.2", *at
        )
        assert refused.exit_code == 1
        assert "no worker of vsc-cloud-shared.never-started polled within 0.2s" in refused.output
        assert await current_build_id(client, "vsc-cloud-shared") == build
        await handle.signal("open")
        assert await handle.result() == "a:False"


def test_deploy_build_id_is_the_workflow_code_hash() -> None:
    result = CliRunner().invoke(app, ["deploy", "build-id"])
    assert result.exit_code == 0 and result.stdout.strip() == workflow_build_id()
