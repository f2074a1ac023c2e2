"""Payload encryption end to end: encrypting workers, raw histories, the stock CLI with and without the codec.

The console API is served over real HTTP on loopback (uvicorn in a thread) so the ``temporal``
binary can use it as its codec server.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import sqlite3
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.metadata import make_engine, provision_tenant
from console_api.api import ApiSettings, Role, create_api_key, create_app
from tests.conftest import temporal_binary
from tests.workflows.harness import Tenant, running
from workflows.queues import cloud_queue
from workflows.sync_types import SyncResult

from .conftest import MakeApi, come_online, enroll
from .test_definitions import definition, setup_connections
from .test_executions import make_erp

ENCRYPTED_B64 = base64.b64encode(b"binary/encrypted").decode()


@contextmanager
def serve_http(app: FastAPI) -> Iterator[int]:
    """Serve ``app`` on a free loopback port in a thread; yields the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    started = threading.Event()
    while not server.started and thread.is_alive():
        started.wait(0.05)
    assert server.started, "the console API did not start"
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


@dataclass
class World:
    tenant: Tenant
    codec_url: str
    viewer_key: str
    other_key: str


@pytest.fixture
async def world(env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[World]:
    tenant = Tenant(client=env.client, home=tmp_path, payload_encryption=True)
    make_erp(tmp_path / "erp.db")
    tenant.agent_connections = [
        {"name": "erp", "kind": "sqlite", "url": f"sqlite:///{tmp_path / 'erp.db'}"},
        {"name": "dw", "kind": "sqlite", "url": f"sqlite:///{tmp_path / 'dw.db'}", "write": True},
    ]
    # Same home as the workers: the API opens the same payload keyring with the same master key.
    settings = ApiSettings(home=tmp_path, metadata_url=f"sqlite:///{tmp_path / 'api.db'}")
    assert settings.payload_encryption  # on by default
    engine = make_engine(settings.metadata_url)
    other = f"t{uuid.uuid4().hex[:10]}"
    for t in (tenant.name, other):
        provision_tenant(engine, tenant_id=t, name=t)
    app = create_app(settings, engine=engine)
    pepper = app.state.ctx.pepper
    viewer = create_api_key(engine, tenant_id=tenant.name, name="ui", role=Role.VIEWER, pepper=pepper)
    stranger = create_api_key(engine, tenant_id=other, name="ui", role=Role.VIEWER, pepper=pepper)
    with serve_http(app) as port:
        yield World(
            tenant=tenant,
            codec_url=f"http://127.0.0.1:{port}/codec",
            viewer_key=viewer.key,
            other_key=stranger.key,
        )
    engine.dispose()


def canary() -> str:
    return f"cnry{uuid.uuid4().hex[:16]}"


def body(tenant: Tenant, destination: str, source: str = "orders") -> dict:
    return {
        "agent": tenant.agent,
        "source_connection": "erp",
        "destination_connection": "dw",
        "tables": [{"source_table": source, "destination_table": destination}],
    }


async def raw_history(env: WorkflowEnvironment, workflow_id: str) -> bytes:
    """Every byte of the run's history as Temporal stores it (payload data not base64'd)."""
    history = await env.client.get_workflow_handle(workflow_id).fetch_history()
    return b"".join(event.SerializeToString() for event in history.events)


async def temporal(env: WorkflowEnvironment, *args: str) -> str:
    target = env.client.service_client.config.target_host
    proc = await asyncio.create_subprocess_exec(
        temporal_binary(),
        *args,
        "--address",
        target,
        "--namespace",
        env.client.namespace,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()
    return out.decode()


async def test_show_workflow_encrypted_without_codec_and_readable_with_it(
    world: World, env: WorkflowEnvironment
) -> None:
    tenant, secret = world.tenant, canary()
    client = tenant.encrypting_client()
    wid = f"codec-show-{uuid.uuid4().hex[:8]}"
    async with running(tenant):
        handle = await client.start_workflow(
            "LocalToLocalSync",
            body(tenant, secret),
            id=wid,
            task_queue=cloud_queue(tenant.name),
            result_type=SyncResult,
        )
        result = await handle.result()
    # the real workflow ran end to end with encrypting cloud and agent workers
    assert [(t.destination_table, t.rows_written) for t in result.tables] == [(secret, 25)]
    with sqlite3.connect(tenant.home / "dw.db") as db:
        assert db.execute(f"SELECT count(*) FROM {secret}").fetchone() == (25,)
    # canary: nowhere in the stored history (inputs, activity inputs/results, result)
    assert secret.encode() not in await raw_history(env, wid)

    plain = await temporal(env, "workflow", "show", "--workflow-id", wid, "--detailed")
    assert secret not in plain
    assert f"input.payloads[0].metadata.encoding: {ENCRYPTED_B64}" in plain
    auth = ("--codec-auth", f"Bearer {world.viewer_key}")
    decoded = await temporal(
        env,
        "workflow",
        "show",
        "--workflow-id",
        wid,
        "--detailed",
        "--codec-endpoint",
        world.codec_url,
        *auth,
    )
    assert f"input[0].tables[0].destination_table: {secret}" in decoded
    assert ENCRYPTED_B64 not in decoded
    # another tenant's key gets its payloads back unchanged: still ciphertext
    foreign = await temporal(
        env,
        "workflow",
        "show",
        "--workflow-id",
        wid,
        "--detailed",
        "--codec-endpoint",
        world.codec_url,
        "--codec-auth",
        f"Bearer {world.other_key}",
    )
    assert secret not in foreign and f"input.payloads[0].metadata.encoding: {ENCRYPTED_B64}" in foreign


async def test_stock_cli_start_with_plain_json_input_runs_on_encrypting_workers(
    world: World, env: WorkflowEnvironment
) -> None:
    tenant, secret = world.tenant, canary()
    wid = f"codec-cli-{uuid.uuid4().hex[:8]}"
    async with running(tenant):
        await temporal(
            env,
            "workflow",
            "start",
            "--task-queue",
            cloud_queue(tenant.name),
            "--type",
            "LocalToLocalSync",
            "--workflow-id",
            wid,
            "--input",
            json.dumps(body(tenant, secret)),
        )
        handle = tenant.encrypting_client().get_workflow_handle(wid, result_type=SyncResult)
        result = await handle.result()
    assert [(t.destination_table, t.rows_written) for t in result.tables] == [(secret, 25)]
    history = await env.client.get_workflow_handle(wid).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes.input.payloads[0]
    # the plain input passed through as sent (a control: the raw scan does see plaintext) ...
    assert started.metadata["encoding"] == b"json/plain" and secret.encode() in started.data
    # ... and everything the workers wrote after it is encrypted
    completed = history.events[-1].workflow_execution_completed_event_attributes.result.payloads[0]
    assert completed.metadata["encoding"] == b"binary/encrypted"
    assert completed.metadata["vsc-tenant"] == tenant.name.encode()
    assert secret.encode() not in completed.SerializeToString()


async def test_failure_message_is_encrypted_in_history(world: World, env: WorkflowEnvironment) -> None:
    tenant, secret = world.tenant, canary()
    wid = f"codec-fail-{uuid.uuid4().hex[:8]}"
    async with running(tenant):
        handle = await tenant.encrypting_client().start_workflow(
            "LocalToLocalSync",
            body(tenant, "dst", source=f"missing_{secret}"),
            id=wid,
            task_queue=cloud_queue(tenant.name),
            result_type=SyncResult,
        )
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
    messages = []
    error: BaseException | None = caught.value
    while error is not None:
        messages.append(str(error))
        error = error.__cause__
    assert any(f"missing_{secret}" in m and "does not exist" in m for m in messages), messages
    assert secret.encode() not in await raw_history(env, wid)


async def test_other_tenants_payload_fails_the_run_without_retrying(
    world: World, env: WorkflowEnvironment, tmp_path: Path
) -> None:
    tenant = world.tenant
    intruder = Tenant(client=env.client, home=tmp_path, payload_encryption=True)
    wid = f"codec-cross-{uuid.uuid4().hex[:8]}"
    async with running(tenant):
        # an input sealed under another tenant's key, dropped on this tenant's queue
        await intruder.encrypting_client().start_workflow(
            "LocalToLocalSync", body(tenant, "x"), id=wid, task_queue=cloud_queue(tenant.name)
        )
        with pytest.raises(WorkflowFailureError) as caught:
            await tenant.encrypting_client().get_workflow_handle(wid).result()
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "PayloadRefusedError" and cause.non_retryable
    assert f"of tenant {intruder.name!r} reached tenant {tenant.name!r}" in cause.message
    history = await env.client.get_workflow_handle(wid).fetch_history()
    assert not any(e.HasField("activity_task_scheduled_event_attributes") for e in history.events)


async def test_start_execution_encrypted_with_the_callers_tenant_key(
    make_api: MakeApi, env: WorkflowEnvironment, tmp_path: Path
) -> None:
    name = f"t{uuid.uuid4().hex[:10]}"
    api = await make_api(tenant=name, temporal=env.client, payload_encryption=True)
    tenant = Tenant(client=env.client, home=tmp_path, name=name, payload_encryption=True)
    make_erp(tmp_path / "erp.db")
    tenant.agent_connections = [
        {"name": "erp", "kind": "sqlite", "url": f"sqlite:///{tmp_path / 'erp.db'}"},
        {"name": "dw", "kind": "sqlite", "url": f"sqlite:///{tmp_path / 'dw.db'}", "write": True},
    ]
    await setup_connections(api)
    enroll(api.engine, name)
    come_online(api.engine, name)
    r = await api.call("POST", "/workflow-definitions", json=definition())
    assert r.status_code == 201, r.text
    async with running(tenant):
        r = await api.call("POST", "/executions", api.operator, json={"definition_id": r.json()["id"]})
        assert r.status_code == 201, r.text
        wid = r.json()["workflow_id"]
        result = await tenant.encrypting_client().get_workflow_handle(wid, result_type=SyncResult).result()
    assert result.tables[0].rows_written == 25
    history = await env.client.get_workflow_handle(wid).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes.input.payloads[0]
    assert started.metadata["encoding"] == b"binary/encrypted"
    assert started.metadata["vsc-tenant"] == name.encode()
    assert b"source_connection" not in await raw_history(env, wid)  # the definition's input, sealed
