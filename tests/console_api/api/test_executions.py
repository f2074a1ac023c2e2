"""Executions against a real Temporal dev server with the cloud and agent workers running."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import update
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from activities.metadata import Agent, WorkflowDefinition, tenant_session
from tests.workflows.harness import Tenant, running

from .conftest import Api, MakeApi, come_online, enroll, new_tenant
from .test_definitions import definition, setup_connections


def make_erp(path: Path, rows: int = 25) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL)")
        db.executemany("INSERT INTO orders VALUES (?, ?)", [(i, f"c{i}") for i in range(rows)])


@pytest.fixture
async def world(make_api: MakeApi, env: WorkflowEnvironment, tmp_path: Path) -> tuple[Api, Tenant]:
    name = new_tenant()
    api = await make_api(tenant=name, temporal=env.client)
    tenant = Tenant(client=env.client, home=tmp_path, name=name)
    make_erp(tmp_path / "erp.db")
    tenant.agent_connections = [
        {"name": "erp", "kind": "sqlite", "url": f"sqlite:///{tmp_path / 'erp.db'}"},
        {"name": "dw", "kind": "sqlite", "url": f"sqlite:///{tmp_path / 'dw.db'}", "write": True},
    ]
    await setup_connections(api)
    enroll(api.engine, name)
    come_online(api.engine, name)
    return api, tenant


async def saved_definition(api: Api, caller=None) -> str:
    r = await api.call("POST", "/workflow-definitions", caller, json=definition())
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_start_execution_happy(world: tuple[Api, Tenant], env: WorkflowEnvironment) -> None:
    api, tenant = world
    definition_id = await saved_definition(api)
    async with running(tenant):
        r = await api.call("POST", "/executions", api.operator, json={"definition_id": definition_id})
        assert r.status_code == 201, r.text
        started = r.json()
        await env.client.get_workflow_handle(started["workflow_id"]).result()
    wid = started["workflow_id"]
    assert wid.startswith(f"{tenant.name}-orders-")
    assert started["task_queue"] == f"vsc.{tenant.name}.cloud"
    assert started["ui_url"].endswith(f"/namespaces/default/workflows/{wid}/{started['run_id']}/history")
    described = (await api.call("GET", f"/executions/{wid}", api.viewer)).json()
    assert described["status"] == "COMPLETED" and described["definition_id"] == definition_id
    listed = (await api.call("GET", "/executions", api.viewer)).json()["data"]
    assert [e["workflow_id"] for e in listed] == [wid]
    with sqlite3.connect(tenant.home / "dw.db") as db:
        assert db.execute("SELECT count(*) FROM orders").fetchone() == (25,)
    events = (await api.call("GET", "/audit/events", params={"workflow_id": wid})).json()
    assert events["count"] > 0 and all(e["workflow_id"] == wid for e in events["data"])
    verified = (await api.call("GET", "/audit/verify")).json()
    assert verified["ok"] is True and verified["count"] >= events["count"]
    assert (await api.call("GET", "/audit/events", api.other)).json()["count"] == 0


async def test_start_execution_mass_assignment_422(world: tuple[Api, Tenant]) -> None:
    api, tenant = world
    definition_id = await saved_definition(api)
    for field, value in (("workflow_id", "mine"), ("task_queue", f"vsc.{api.other.tenant}.cloud")):
        r = await api.call("POST", "/executions", json={"definition_id": definition_id, field: value})
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", field]


async def test_start_execution_viewer_403(world: tuple[Api, Tenant]) -> None:
    api, _ = world
    definition_id = await saved_definition(api)
    r = await api.call("POST", "/executions", api.viewer, json={"definition_id": definition_id})
    assert r.status_code == 403


async def test_start_execution_not_found(world: tuple[Api, Tenant]) -> None:
    api, _ = world
    assert (await api.call("POST", "/executions", json={"definition_id": "nope"})).status_code == 404


async def test_start_execution_other_tenant(world: tuple[Api, Tenant]) -> None:
    api, _ = world
    await setup_connections(api, api.other)
    enroll(api.engine, api.other.tenant)
    theirs = await saved_definition(api, api.other)
    assert (await api.call("POST", "/executions", json={"definition_id": theirs})).status_code == 404


async def test_read_execution_not_found(world: tuple[Api, Tenant]) -> None:
    api, _ = world
    assert (await api.call("GET", "/executions/no-such-run")).status_code == 404


async def test_read_execution_other_tenant(world: tuple[Api, Tenant]) -> None:
    api, _ = world
    await setup_connections(api, api.other)
    enroll(api.engine, api.other.tenant)
    come_online(api.engine, api.other.tenant)
    theirs = await saved_definition(api, api.other)
    started = (await api.call("POST", "/executions", api.other, json={"definition_id": theirs})).json()
    wid = started["workflow_id"]
    try:
        assert (await api.call("GET", f"/executions/{wid}")).status_code == 404
        assert (await api.call("POST", f"/executions/{wid}/cancel")).status_code == 404
        assert wid not in {e["workflow_id"] for e in (await api.call("GET", "/executions")).json()["data"]}
        assert (await api.call("GET", f"/executions/{wid}", api.other)).json()["status"] == "RUNNING"
    finally:
        await api.app.state.ctx.temporal.get_workflow_handle(wid).terminate("test cleanup")


async def test_cancel_execution_happy(world: tuple[Api, Tenant], env: WorkflowEnvironment) -> None:
    api, tenant = world
    definition_id = await saved_definition(api)
    # No agent worker: the run waits on its agent step until it is cancelled.
    async with running(tenant, agent=False):
        started = (await api.call("POST", "/executions", json={"definition_id": definition_id})).json()
        r = await api.call("POST", f"/executions/{started['workflow_id']}/cancel", api.operator)
        assert r.status_code == 202
        with pytest.raises(WorkflowFailureError):
            await env.client.get_workflow_handle(started["workflow_id"]).result()
    described = (await api.call("GET", f"/executions/{started['workflow_id']}")).json()
    assert described["status"] == "CANCELED"


async def test_cancel_execution_viewer_403(world: tuple[Api, Tenant]) -> None:
    api, _ = world
    assert (await api.call("POST", "/executions/any/cancel", api.viewer)).status_code == 403


async def test_cancel_execution_not_found(world: tuple[Api, Tenant]) -> None:
    api, _ = world
    assert (await api.call("POST", "/executions/no-such-run/cancel")).status_code == 404


async def test_cancel_execution_other_tenant(world: tuple[Api, Tenant]) -> None:
    api, _ = world
    # Covered with a live foreign run in test_read_execution_other_tenant; here a foreign-looking id.
    r = await api.call("POST", f"/executions/{api.other.tenant}-orders-x/cancel")
    assert r.status_code == 404


async def test_start_execution_refused_409_when_no_agent_is_online(world: tuple[Api, Tenant]) -> None:
    api, tenant = world
    definition_id = await saved_definition(api)
    with tenant_session(api.engine, tenant.name) as session:  # its gateway recorded it offline
        session.execute(update(Agent).values(status="offline"))
    r = await api.call("POST", "/executions", api.operator, json={"definition_id": definition_id})
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "agent or agent group 'edge-1' has no member online" in r.json()["detail"]


async def test_start_execution_altered_definition_409(world: tuple[Api, Tenant]) -> None:
    """Runs start from the content-addressed copy: a row changed in the metadata store is refused."""
    api, tenant = world
    definition_id = await saved_definition(api)
    saved = (await api.call("GET", f"/workflow-definitions/{definition_id}")).json()
    registry = api.app.state.ctx.artifacts
    assert registry.exists(tenant=tenant.name, kind="workflow-definition", sha256=saved["content_hash"])
    with tenant_session(api.engine, tenant.name) as session:
        row = session.get(WorkflowDefinition, definition_id)
        changed = json.loads(json.dumps(row.document))
        changed["input"]["destination_connection"] = "erp"  # point the run at another table
        row.document = changed
    r = await api.call("POST", "/executions", api.operator, json={"definition_id": definition_id})
    assert r.status_code == 409 and "altered at rest" in r.json()["detail"], r.text
    assert (await api.call("GET", "/executions")).json()["count"] == 0


async def test_start_execution_with_params_happy(world: tuple[Api, Tenant], env: WorkflowEnvironment) -> None:
    api, tenant = world
    definition_id = await saved_definition(api)
    saved = (await api.call("GET", f"/workflow-definitions/{definition_id}")).json()
    assert saved["input"]["pipeline"] == "orders"  # incremental cursors outlive each run's workflow id
    params = {"tables": ["orders"], "limits": {"batch_rows": 10}, "verify": False}
    async with running(tenant):
        r = await api.call(
            "POST", "/executions", api.operator, json={"definition_id": definition_id, "params": params}
        )
        assert r.status_code == 201, r.text
        result = await env.client.get_workflow_handle(r.json()["workflow_id"]).result()
    [table] = result["tables"]
    assert (table["rows_written"], table["batches"]) == (25, 3)  # 10 + 10 + 5
    assert table["source"] is None  # not verified


async def test_start_execution_with_unknown_table_param_422(world: tuple[Api, Tenant]) -> None:
    api, _ = world
    definition_id = await saved_definition(api)
    body = {"definition_id": definition_id, "params": {"tables": ["orders", "secrets"]}}
    r = await api.call("POST", "/executions", api.operator, json=body)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "params", "tables"], r.text
    assert "'secrets'" in r.json()["detail"]
    body = {"definition_id": definition_id, "params": {"tables": ["orders"], "task_queue": "x"}}
    assert (await api.call("POST", "/executions", api.operator, json=body)).status_code == 422
    assert (await api.call("GET", "/executions")).json()["count"] == 0
