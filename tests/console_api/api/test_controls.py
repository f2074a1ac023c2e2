"""Control flags and the emergency stop through the API, against running executions on a real server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from activities.metadata import make_engine, set_paused
from tests.workflows.harness import Tenant, running
from tests.workflows.test_controls import (
    ROWS,
    WINDOW_S,
    dst_stats,
    is_paused,
    lost,
    source_locked,
    step_started,
    until,
)
from workflows.queues import cloud_queue
from workflows.sync_types import SyncResult

from .conftest import Api, enroll
from .pgworld import PgWorld, add_connections, audit_actions, definition_body, start


async def test_pause_control_stops_a_running_execution_and_resume_completes_it(
    pg_world: PgWorld, env: WorkflowEnvironment
) -> None:
    api, tenant = pg_world
    flag = {"scope": "connection", "name": "dw", "reason": "destination maintenance"}
    async with running(tenant):
        wid = await start(api)
        handle = env.client.get_workflow_handle(wid, result_type=SyncResult)
        async with source_locked(tenant):
            await until(lambda: step_started(handle), what="the first step to start")
            r = await api.call("POST", "/controls/pause", api.operator, json=flag)
            assert r.status_code == 200, r.text
            assert r.json() == {
                **{k: flag[k] for k in ("scope", "name")},
                "paused": True,
                "changed": True,
                "signalled": 1,
            }
        await until(lambda: is_paused(handle), what="the run to pause")
        before = dst_stats(tenant)[0]
        await asyncio.sleep(WINDOW_S)
        assert dst_stats(tenant)[0] == before and 0 < before < ROWS
        described = (await api.call("GET", f"/executions/{wid}", api.viewer)).json()
        assert described["progress"]["state"]["controls"]["paused_by"] == ["connection:dw"]
        assert described["progress"]["state"]["current"]["rows_written"] == before
        listed = (await api.call("GET", "/controls", api.viewer)).json()
        assert [(f["scope"], f["name"], f["reason"]) for f in listed["data"]] == [
            ("connection", "dw", "destination maintenance")
        ]
        # While paused, new runs are refused rather than left waiting.
        again = await api.call(
            "POST", "/executions", api.operator, json={"definition_id": described["definition_id"]}
        )
        assert again.status_code == 409 and "connection:dw" in again.json()["detail"]
        r = await api.call(
            "POST", "/controls/resume", api.operator, json={"scope": "connection", "name": "dw"}
        )
        assert r.status_code == 200 and r.json()["paused"] is False
        result: SyncResult = await handle.result()
    assert result.tables[0].verified and result.tables[0].rows_written == ROWS
    assert dst_stats(tenant) == (ROWS, 0) and lost(tenant) == 0
    assert (await api.call("GET", "/controls")).json()["count"] == 0
    actions = audit_actions(api)
    assert ("control.pause", "connection:dw") in actions and ("control.resume", "connection:dw") in actions


async def test_emergency_stop_ends_the_tenants_runs_but_not_another_tenants(
    pg_world: PgWorld, env: WorkflowEnvironment, tmp_path: Path
) -> None:
    api, tenant = pg_world
    other = Tenant(client=env.client, home=tmp_path / "other", name=api.other.tenant)
    (tmp_path / "other").mkdir()
    other.agent_connections = tenant.agent_connections
    held = {
        "agent": "edge-1",
        "source_connection": "erp",
        "destination_connection": "dw",
        "tables": [{"source_table": "items"}],
    }
    async with running(tenant), running(other, agent=False):
        async with source_locked(tenant):
            stuck = await start(api)  # its step blocks on the source lock and cannot reach a batch boundary
            await until(lambda: step_started(env.client.get_workflow_handle(stuck)), what="the step to block")
            # A second run of ours and one of the other tenant wait in their gates (paused agent).
            r = await api.call(
                "POST", "/controls/pause", api.operator, json={"scope": "agent", "name": "edge-1"}
            )
            assert r.status_code == 200
            waiting = await tenant.start("LocalToLocalSync", held)
            other_engine = make_engine(f"sqlite:///{tmp_path / 'other' / 'metadata.db'}")
            set_paused(other_engine, tenant_id=other.name, scope="tenant", name="", paused=True)
            theirs = await other.start("LocalToLocalSync", held)
            await until(lambda: is_paused(waiting), what="our second run to wait")
            await until(lambda: is_paused(theirs), what="their run to wait")
            ours = {stuck, waiting.id}

            async def visible() -> bool:
                query = f'TaskQueue = "{cloud_queue(tenant.name)}" AND ExecutionStatus = "Running"'
                return {w.id async for w in env.client.list_workflows(query)} == ours

            await until(visible, what="visibility to list both runs")
            r = await api.call(
                "POST",
                "/controls/emergency-stop",
                api.operator,
                json={"reason": "bad data upstream", "grace_seconds": 3},
            )
        assert r.status_code == 200, r.text
        stopped = r.json()
        assert stopped == {"cancelled": [waiting.id], "terminated": [stuck], "tenant_paused": True}
        assert (
            await env.client.get_workflow_handle(stuck).describe()
        ).status == WorkflowExecutionStatus.TERMINATED
        assert (await waiting.describe()).status == WorkflowExecutionStatus.CANCELED
        assert (await theirs.describe()).status == WorkflowExecutionStatus.RUNNING
        flags = (await api.call("GET", "/controls")).json()["data"]
        assert {(f["scope"], f["name"]) for f in flags} == {("tenant", None), ("agent", "edge-1")}
        await theirs.terminate(reason="test cleanup")
        other_engine.dispose()
    assert ("control.emergency_stop", "tenant") in audit_actions(api)
    assert dst_stats(tenant)[1] == 0


async def test_emergency_stop_control_viewer_403(api: Api) -> None:
    r = await api.call("POST", "/controls/emergency-stop", api.viewer, json={"reason": "x"})
    assert r.status_code == 403


async def test_pause_control_tenant_happy(pg_world: PgWorld) -> None:
    api, _ = pg_world
    r = await api.call("POST", "/controls/pause", api.operator, json={"scope": "tenant", "reason": "freeze"})
    assert r.status_code == 200 and r.json()["changed"] is True and r.json()["signalled"] == 0
    assert (await api.call("POST", "/controls/pause", json={"scope": "tenant"})).json()["changed"] is False
    listed = (await api.call("GET", "/controls", api.viewer)).json()["data"]
    assert [(f["scope"], f["name"]) for f in listed] == [("tenant", None)]
    assert (await api.call("GET", "/controls", api.other)).json()["count"] == 0
    r = await api.call("POST", "/workflow-definitions", json=definition_body())
    refused = await api.call("POST", "/executions", json={"definition_id": r.json()["id"]})
    assert refused.status_code == 409 and "tenant" in refused.json()["detail"]
    assert (await api.call("POST", "/controls/resume", json={"scope": "tenant"})).json()["changed"] is True


async def test_pause_control_agent_group_happy(pg_world: PgWorld) -> None:
    api, _ = pg_world
    enroll(api.engine, api.admin.tenant, agent_id="edge-7", group_id="plant-a")
    for name in ("edge-7", "plant-a"):
        r = await api.call("POST", "/controls/pause", api.operator, json={"scope": "agent", "name": name})
        assert r.status_code == 200, r.text


async def test_pause_control_not_found(api: Api) -> None:
    for body in ({"scope": "connection", "name": "nope"}, {"scope": "agent", "name": "nope"}):
        r = await api.call("POST", "/controls/pause", api.operator, json=body)
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")


async def test_pause_control_other_tenant(pg_world: PgWorld) -> None:
    api, _ = pg_world
    await add_connections(api, api.other)
    enroll(api.engine, api.other.tenant, agent_id="their-agent")
    for body in ({"scope": "connection", "name": "erp"}, {"scope": "agent", "name": "their-agent"}):
        await api.call("POST", "/controls/pause", api.other, json=body)
    # Their names that we do not have answer 404, like missing ones; theirs stay theirs.
    r = await api.call("POST", "/controls/pause", json={"scope": "agent", "name": "their-agent"})
    assert r.status_code == 404
    assert (await api.call("GET", "/controls")).json()["count"] == 0
    theirs = (await api.call("GET", "/controls", api.other)).json()["data"]
    assert {(f["scope"], f["name"]) for f in theirs} == {("connection", "erp"), ("agent", "their-agent")}


async def test_pause_control_viewer_403(api: Api) -> None:
    r = await api.call("POST", "/controls/pause", api.viewer, json={"scope": "tenant"})
    assert r.status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"scope": "tenant", "name": "x"},
        {"scope": "connection"},
        {"scope": "everything"},
        {"scope": "tenant", "tenant_id": "t"},
    ],
)
async def test_pause_control_invalid_422(api: Api, body: dict) -> None:
    assert (await api.call("POST", "/controls/pause", json=body)).status_code == 422


async def test_resume_control_happy(pg_world: PgWorld) -> None:
    api, _ = pg_world
    await api.call("POST", "/controls/pause", json={"scope": "connection", "name": "erp"})
    r = await api.call("POST", "/controls/resume", api.operator, json={"scope": "connection", "name": "erp"})
    assert r.status_code == 200 and r.json()["changed"] is True
    assert (await api.call("GET", "/controls")).json()["count"] == 0


async def test_resume_control_not_found(api: Api) -> None:
    r = await api.call("POST", "/controls/resume", json={"scope": "connection", "name": "nope"})
    assert r.status_code == 404


async def test_resume_control_other_tenant(pg_world: PgWorld) -> None:
    api, _ = pg_world
    enroll(api.engine, api.other.tenant, agent_id="their-agent")
    await api.call("POST", "/controls/pause", api.other, json={"scope": "agent", "name": "their-agent"})
    r = await api.call("POST", "/controls/resume", json={"scope": "agent", "name": "their-agent"})
    assert r.status_code == 404
    assert (await api.call("GET", "/controls", api.other)).json()["count"] == 1


async def test_list_controls_not_authenticated_401(api: Api) -> None:
    assert (await api.http.get("/controls")).status_code == 401


async def test_paused_run_ends_cancelled_through_the_api(pg_world: PgWorld, env: WorkflowEnvironment) -> None:
    api, tenant = pg_world
    async with running(tenant):
        wid = await start(api)
        handle = env.client.get_workflow_handle(wid)
        r = await api.call("POST", f"/executions/{wid}/signal", api.operator, json={"name": "pause"})
        assert r.status_code == 202
        await until(lambda: is_paused(handle), what="the run to pause")
        assert (await api.call("POST", f"/executions/{wid}/cancel")).status_code == 202
        with pytest.raises(WorkflowFailureError):
            await handle.result()
