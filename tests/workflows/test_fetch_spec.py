"""FetchSpecWorkflow: the console's workflow that has the tenant's agent fetch a local spec URL."""

from __future__ import annotations

import base64
import socket
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.api_specs import fetch_spec
from tests.console_api.served import serve
from tests.workflows.harness import record_history
from workflows.fetch_spec import FetchSpecResult, FetchSpecWorkflow
from workflows.queues import agent_queue, cloud_queue

DOC = '{"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {}}'


@asynccontextmanager
async def fetch_workers(client: Client, tenant: str, agent: str = "edge-1") -> AsyncIterator[None]:
    """The cloud worker's workflow and the agent's activity, each on its own tenant queue."""
    with ThreadPoolExecutor(max_workers=2) as executor:
        async with (
            Worker(client, task_queue=cloud_queue(tenant), workflows=[FetchSpecWorkflow]),
            Worker(
                client,
                task_queue=agent_queue(tenant, agent),
                activities=[fetch_spec],
                activity_executor=executor,
            ),
        ):
            yield


def doc_server() -> FastAPI:
    app = FastAPI(openapi_url=None)

    @app.get("/spec.json", response_class=PlainTextResponse)
    def spec() -> str:
        return DOC

    return app


async def run(client: Client, tenant: str, url: str, scenario: str) -> FetchSpecResult:
    handle = await client.start_workflow(
        FetchSpecWorkflow.run,
        {"agent": "edge-1", "fetch": {"url": url, "timeout_seconds": 5}},
        id=f"fetch-{uuid.uuid4()}",
        task_queue=cloud_queue(tenant),
        result_type=FetchSpecResult,
    )
    try:
        return await handle.result()
    finally:
        await record_history(handle, "FetchSpecWorkflow", scenario)


async def test_fetch_spec_workflow_returns_the_document_inline(env: WorkflowEnvironment) -> None:
    tenant = f"t{uuid.uuid4().hex[:10]}"
    with serve(doc_server()) as origin:
        async with fetch_workers(env.client, tenant):
            result = await run(env.client, tenant, f"{origin}/spec.json", "fetched")
    assert base64.b64decode(result.data_b64).decode() == DOC and result.size == len(DOC)


async def test_fetch_spec_workflow_unreachable_fails_with_its_type(env: WorkflowEnvironment) -> None:
    tenant = f"t{uuid.uuid4().hex[:10]}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with fetch_workers(env.client, tenant):
        with pytest.raises(WorkflowFailureError) as failed:
            await run(env.client, tenant, f"http://127.0.0.1:{port}/spec.json", "unreachable")
    cause = failed.value.cause.__cause__
    assert isinstance(cause, ApplicationError) and cause.type == "SpecUnreachableError"


async def test_fetch_spec_workflow_refuses_other_schemes(env: WorkflowEnvironment) -> None:
    tenant = f"t{uuid.uuid4().hex[:10]}"
    async with fetch_workers(env.client, tenant):
        with pytest.raises(WorkflowFailureError) as failed:
            await run(env.client, tenant, "file:///etc/passwd", "refused")
    cause = failed.value.cause.__cause__
    assert isinstance(cause, ApplicationError) and cause.type == "EgressDeniedError" and cause.non_retryable
