"""S5 / S11: an agent of tenant A, through its own tunnel, cannot reach anything but its own work.

Each case drives the real gateway with a hand-written gRPC call on the tunnel's loopback port and
expects PERMISSION_DENIED plus a ``gateway.rpc_denied`` audit event in tenant A's log.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    GetWorkflowExecutionHistoryRequest,
    PollActivityTaskQueueRequest,
    PollActivityTaskQueueResponse,
    RespondActivityTaskCompletedRequest,
    SignalWorkflowExecutionRequest,
    TerminateWorkflowExecutionRequest,
)
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from tests.console_api.gateway.conftest import GatewayRig, new_tenant
from workflows.queues import agent_queue


@workflow.defn(sandboxed=False)
class CallsOneActivity:
    """Schedules one activity by name on the queue it is given, as a cloud workflow would."""

    @workflow.run
    async def run(self, queue: str) -> str:
        return await workflow.execute_activity(
            "noop", task_queue=queue, start_to_close_timeout=timedelta(seconds=60)
        )


@dataclass
class Scene:
    rig: GatewayRig
    env: WorkflowEnvironment
    tenant_a: str
    tenant_b: str
    agent: Client  # tenant A's agent, connected only through the gateway
    wf_queue: str

    async def schedule(self, tenant: str) -> WorkflowHandle:
        """A running workflow waiting on an activity in ``tenant``'s agent queue."""
        return await self.env.client.start_workflow(
            CallsOneActivity.run,
            agent_queue(tenant, "edge-1"),
            id=f"wf-{uuid.uuid4().hex[:8]}",
            task_queue=self.wf_queue,
        )

    async def denied(self, call) -> None:
        with pytest.raises(RPCError) as caught:
            await call
        assert caught.value.status == RPCStatusCode.PERMISSION_DENIED
        assert "refused by the gateway" in caught.value.message

    def denials(self) -> list[str]:
        return [e.details["rpc"] for e in self.rig.audit(self.tenant_a) if e.action == "gateway.rpc_denied"]

    def poll(self, client: Client, tenant: str) -> PollActivityTaskQueueRequest:
        return PollActivityTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=agent_queue(tenant, "edge-1")),
            identity="test",
        )


@pytest.fixture
async def scene(rig: GatewayRig, env: WorkflowEnvironment) -> AsyncIterator[Scene]:
    tenant_a, tenant_b = new_tenant(), new_tenant()
    signer = rig.enroll(tenant_a)
    rig.enroll(tenant_b)
    wf_queue = f"wf-{uuid.uuid4().hex[:8]}"
    async with (
        rig.tunnel(tenant_a, signer) as tunnel,
        Worker(
            env.client,
            task_queue=wf_queue,
            workflows=[CallsOneActivity],
            workflow_runner=UnsandboxedWorkflowRunner(),
        ),
    ):
        await tunnel.wait_connected()
        agent = await Client.connect(tunnel.address, namespace=env.client.namespace)
        yield Scene(rig, env, tenant_a, tenant_b, agent, wf_queue)


async def _poll_directly(scene: Scene, tenant: str) -> PollActivityTaskQueueResponse:
    """Tenant ``tenant``'s legitimate poll, made straight to Temporal (not through the gateway)."""
    await scene.schedule(tenant)
    client = scene.env.client
    return await client.workflow_service.poll_activity_task_queue(scene.poll(client, tenant))


async def test_cannot_poll_another_tenants_queue(scene: Scene) -> None:
    await scene.denied(
        scene.agent.workflow_service.poll_activity_task_queue(scene.poll(scene.agent, scene.tenant_b))
    )
    assert scene.denials() == ["PollActivityTaskQueue"]


async def test_cannot_start_workflows(scene: Scene) -> None:
    await scene.denied(
        scene.agent.start_workflow(
            CallsOneActivity.run, "x", id="evil", task_queue=agent_queue(scene.tenant_a, "edge-1")
        )
    )
    assert scene.denials() == ["StartWorkflowExecution"]


async def test_cannot_signal_workflows(scene: Scene) -> None:
    handle = await scene.schedule(scene.tenant_b)
    request = SignalWorkflowExecutionRequest(
        namespace=scene.agent.namespace,
        workflow_execution=WorkflowExecution(workflow_id=handle.id),
        signal_name="anything",
        identity="evil",
    )
    await scene.denied(scene.agent.workflow_service.signal_workflow_execution(request))
    assert scene.denials() == ["SignalWorkflowExecution"]


async def test_cannot_terminate_workflows(scene: Scene) -> None:
    handle = await scene.schedule(scene.tenant_b)
    request = TerminateWorkflowExecutionRequest(
        namespace=scene.agent.namespace,
        workflow_execution=WorkflowExecution(workflow_id=handle.id),
        reason="evil",
    )
    await scene.denied(scene.agent.workflow_service.terminate_workflow_execution(request))
    assert scene.denials() == ["TerminateWorkflowExecution"]
    await handle.terminate("test cleanup")


async def test_cannot_read_histories(scene: Scene) -> None:
    handle = await scene.schedule(scene.tenant_b)
    request = GetWorkflowExecutionHistoryRequest(
        namespace=scene.agent.namespace, execution=WorkflowExecution(workflow_id=handle.id)
    )
    await scene.denied(scene.agent.workflow_service.get_workflow_execution_history(request))
    assert scene.denials() == ["GetWorkflowExecutionHistory"]


async def test_cannot_complete_with_a_forged_token(scene: Scene) -> None:
    request = RespondActivityTaskCompletedRequest(
        namespace=scene.agent.namespace, task_token=os.urandom(64), identity="evil"
    )
    await scene.denied(scene.agent.workflow_service.respond_activity_task_completed(request))
    assert scene.denials() == ["RespondActivityTaskCompleted"]


async def test_cannot_complete_another_tenants_task_with_its_real_token(scene: Scene) -> None:
    task = await _poll_directly(scene, scene.tenant_b)
    assert task.task_token
    request = RespondActivityTaskCompletedRequest(
        namespace=scene.agent.namespace, task_token=task.task_token, identity="evil"
    )
    await scene.denied(scene.agent.workflow_service.respond_activity_task_completed(request))
    assert scene.denials() == ["RespondActivityTaskCompleted"]


async def test_cannot_replay_its_own_completed_token(scene: Scene) -> None:
    await scene.schedule(scene.tenant_a)
    task = await scene.agent.workflow_service.poll_activity_task_queue(
        scene.poll(scene.agent, scene.tenant_a)
    )
    assert task.task_token
    done = RespondActivityTaskCompletedRequest(namespace=scene.agent.namespace, task_token=task.task_token)
    await scene.agent.workflow_service.respond_activity_task_completed(done)  # its own task: allowed once
    await scene.denied(scene.agent.workflow_service.respond_activity_task_completed(done))
    assert scene.denials() == ["RespondActivityTaskCompleted"]


async def test_cannot_poll_in_another_namespace(scene: Scene) -> None:
    request = scene.poll(scene.agent, scene.tenant_a)
    request.namespace = "someone-else"
    await scene.denied(scene.agent.workflow_service.poll_activity_task_queue(request))
    assert scene.denials() == ["PollActivityTaskQueue"]
