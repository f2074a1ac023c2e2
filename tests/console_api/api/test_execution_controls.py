"""Execution terminate, signal (allow-list) and progress, against a real server and real workers."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from tests.workflows.harness import running
from tests.workflows.test_controls import ROWS, dst_stats, is_paused, until, url_of
from workflows.queues import cloud_queue
from workflows.sync_types import SyncResult

from .conftest import Api
from .pgworld import PgWorld, audit_actions, start

HELD = {
    "agent": "edge-1",
    "source_connection": "erp",
    "destination_connection": "dw",
    "tables": [{"source_table": "items"}],
}


async def foreign_run(api: Api, env: WorkflowEnvironment) -> WorkflowHandle:
    """A live run of the other tenant (no worker serves it, so it stays running)."""
    return await env.client.start_workflow(
        "LocalToLocalSync",
        HELD,
        id=f"{api.other.tenant}-x-{uuid.uuid4()}",
        task_queue=cloud_queue(api.other.tenant),
    )


async def test_terminate_execution_happy(pg_world: PgWorld, env: WorkflowEnvironment) -> None:
    api, _ = pg_world
    wid = await start(api)  # no worker: it stays running until terminated
    r = await api.call(
        "POST", f"/executions/{wid}/terminate", api.operator, json={"reason": "wrong parameters"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "TERMINATED"
    assert ("execution.terminate", wid) in audit_actions(api)


async def test_terminate_execution_not_found(temporal_api: Api) -> None:
    api = temporal_api
    r = await api.call("POST", "/executions/no-such-run/terminate", json={"reason": "x"})
    assert r.status_code == 404


async def test_terminate_execution_other_tenant(pg_world: PgWorld, env: WorkflowEnvironment) -> None:
    api, _ = pg_world
    theirs = await foreign_run(api, env)
    try:
        r = await api.call("POST", f"/executions/{theirs.id}/terminate", json={"reason": "x"})
        assert r.status_code == 404
        assert (await theirs.describe()).status == WorkflowExecutionStatus.RUNNING
    finally:
        await theirs.terminate(reason="test cleanup")


async def test_terminate_execution_viewer_403(temporal_api: Api) -> None:
    api = temporal_api
    assert (
        await api.call("POST", "/executions/x/terminate", api.viewer, json={"reason": "x"})
    ).status_code == 403


async def test_terminate_execution_without_reason_422(temporal_api: Api) -> None:
    api = temporal_api
    assert (await api.call("POST", "/executions/x/terminate", json={})).status_code == 422


async def test_signal_execution_happy(pg_world: PgWorld, env: WorkflowEnvironment) -> None:
    api, tenant = pg_world
    async with running(tenant):
        wid = await start(api)
        handle = env.client.get_workflow_handle(wid, result_type=SyncResult)
        r = await api.call(
            "POST",
            f"/executions/{wid}/signal",
            api.operator,
            json={"name": "pause", "args": {"reason": "look"}},
        )
        assert r.status_code == 202 and r.json() == {"workflow_id": wid, "name": "pause"}
        await until(lambda: is_paused(handle), what="the run to pause")
        state = (await api.call("GET", f"/executions/{wid}", api.viewer)).json()["progress"]["state"]
        assert state["controls"]["paused_by"] == ["execution"]
        event = {"source": "webhook:h1", "delivery_id": "d-1", "payload": {"order": 7}}
        assert (
            await api.call("POST", f"/executions/{wid}/signal", json={"name": "event", "args": event})
        ).status_code == 202
        assert (
            await api.call("POST", f"/executions/{wid}/signal", json={"name": "resume"})
        ).status_code == 202
        result = await handle.result()
        final = (await api.call("GET", f"/executions/{wid}")).json()
    # The event may have asked for a second pass (the result is then that pass's): rows, not writes.
    assert result.tables[0].rows_read == ROWS and dst_stats(tenant) == (ROWS, 0)
    assert final["status"] == "COMPLETED" and final["progress"]["state"] is None
    assert ("execution.signal", wid) in audit_actions(api)


async def test_signal_execution_not_found(temporal_api: Api) -> None:
    api = temporal_api
    assert (
        await api.call("POST", "/executions/no-such-run/signal", json={"name": "pause"})
    ).status_code == 404


async def test_signal_execution_other_tenant(pg_world: PgWorld, env: WorkflowEnvironment) -> None:
    api, _ = pg_world
    theirs = await foreign_run(api, env)
    try:
        assert (
            await api.call("POST", f"/executions/{theirs.id}/signal", json={"name": "pause"})
        ).status_code == 404
        assert (await api.call("GET", f"/executions/{theirs.id}")).status_code == 404
    finally:
        await theirs.terminate(reason="test cleanup")


async def test_signal_execution_viewer_403(temporal_api: Api) -> None:
    api = temporal_api
    assert (
        await api.call("POST", "/executions/x/signal", api.viewer, json={"name": "pause"})
    ).status_code == 403


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"name": "terminate_everything"}, ["body", "name"]),
        ({"name": "event", "args": {"source": "webhook:h1"}}, ["body", "args", "delivery_id"]),
        ({"name": "pause", "args": {"scope": "galaxy"}}, ["body", "args", "scope"]),
    ],
)
async def test_signal_execution_outside_the_allow_list_422(temporal_api: Api, body: dict, loc: list) -> None:
    api = temporal_api
    r = await api.call("POST", "/executions/x/signal", json=body)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == loc


async def test_signal_execution_not_running_409(pg_world: PgWorld) -> None:
    api, _ = pg_world
    wid = await start(api)
    await api.call("POST", f"/executions/{wid}/terminate", json={"reason": "done"})
    r = await api.call("POST", f"/executions/{wid}/signal", json={"name": "resume"})
    assert r.status_code == 409 and "not running" in r.json()["detail"]


async def test_read_execution_progress_shows_heartbeats(pg_world: PgWorld, env: WorkflowEnvironment) -> None:
    api, tenant = pg_world
    async with running(tenant):
        wid = await start(api, max_rows=ROWS)  # one step: the lock always lands inside it
        await until(lambda: dst_stats(tenant)[0] > 0, what="the first committed batch")
        # Hold the destination: the copy's next write waits, so its step stays pending.
        db = psycopg.connect(url_of(tenant, "dw"))
        try:
            db.execute("LOCK TABLE items IN SHARE MODE")

            async def beat() -> dict | None:
                got = (await api.call("GET", f"/executions/{wid}", api.viewer)).json()["progress"]
                acts = [a for a in got["activities"] if a["heartbeat"]]
                return got if acts else None

            progress = await until(beat, what="a heartbeat")
        finally:
            db.rollback()
            db.close()
        await env.client.get_workflow_handle(wid).result()
    activity = progress["activities"][0]
    assert activity["activity_type"] == "copy_table" and activity["attempt"] == 1
    assert activity["heartbeat"]["rows_read"] > 0 and activity["last_heartbeat_at"] is not None
    assert progress["state"]["table_index"] == 0 and progress["state"]["controls"]["paused"] is False
