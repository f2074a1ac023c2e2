"""Schedules against a real Temporal dev server: created, read, paused, triggered and deleted in Temporal."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from activities.metadata import Schedule, tenant_session
from console_api.api.routes import schedules as schedules_route
from tests.workflows.harness import Tenant, running

from .conftest import Api, Caller, MakeApi
from .test_definitions import definition, ready
from .test_executions import world  # noqa: F401 - the API, workers and ERP of a trigger-now run

HOUR = 3600


async def saved_definition(api: Api, caller: Caller | None = None) -> str:
    r = await api.call("POST", "/workflow-definitions", caller, json=definition())
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def forget_schedules(api: Api, client: Client) -> None:
    """Delete every Temporal schedule the test's two tenants created (the dev server is shared)."""
    for tenant in (api.admin.tenant, api.other.tenant):
        with tenant_session(api.engine, tenant) as session:
            ids = list(session.scalars(select(Schedule.schedule_id)))
        for schedule_id in ids:
            try:
                await client.get_schedule_handle(schedule_id).delete()
            except RPCError as exc:
                assert exc.status == RPCStatusCode.NOT_FOUND


async def in_temporal(client: Client, schedule_id: str) -> bool:
    try:
        await client.get_schedule_handle(schedule_id).describe()
    except RPCError as exc:
        assert exc.status == RPCStatusCode.NOT_FOUND
        return False
    return True


@pytest.fixture
async def sched(make_api: MakeApi, env: WorkflowEnvironment) -> AsyncIterator[tuple[Api, str]]:
    api = await make_api(temporal=env.client)
    await ready(api)
    yield api, await saved_definition(api)
    await forget_schedules(api, env.client)


async def create(api: Api, definition_id: str, caller: Caller | None = None, **fields) -> dict:
    body = {"name": "nightly", "definition_id": definition_id, "interval_seconds": HOUR, **fields}
    r = await api.call("POST", "/schedules", caller or api.operator, json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def theirs(api: Api) -> dict:
    """A schedule of the other tenant."""
    await ready(api, api.other)
    return await create(api, await saved_definition(api, api.other), api.other, name="theirs")


async def test_create_schedule_happy(sched: tuple[Api, str], env: WorkflowEnvironment) -> None:
    api, definition_id = sched
    tenant = api.admin.tenant
    body = await create(api, definition_id, cron="0 2 * * *", jitter_seconds=30, note="nightly load")
    assert body["schedule_id"] == f"{tenant}.nightly"
    assert body["workflow_id_prefix"] == f"{tenant}.nightly" and body["task_queue"] == f"vsc.{tenant}.cloud"
    assert (body["interval_seconds"], body["cron"], body["jitter_seconds"]) == (HOUR, "0 2 * * *", 30)
    assert body["overlap"] == "skip" and body["definition_id"] == definition_id
    state = body["state"]
    assert state["paused"] is False and state["note"] == "nightly load" and state["next_action_times"]
    described = await env.client.get_schedule_handle(body["schedule_id"]).describe()
    action = described.schedule.action
    assert action.task_queue == f"vsc.{tenant}.cloud" and action.workflow == "LocalToLocalSync"
    assert action.id == f"{tenant}.nightly"
    assert described.schedule.spec.intervals[0].every.total_seconds() == HOUR
    assert described.schedule.spec.jitter is not None and described.schedule.spec.jitter.total_seconds() == 30
    assert described.schedule.policy.overlap.name == "SKIP"


async def test_create_schedule_paused(sched: tuple[Api, str], env: WorkflowEnvironment) -> None:
    api, definition_id = sched
    body = await create(api, definition_id, paused=True, overlap="buffer_one")
    assert body["state"]["paused"] is True
    described = await env.client.get_schedule_handle(body["schedule_id"]).describe()
    assert described.schedule.state.paused is True and described.schedule.policy.overlap.name == "BUFFER_ONE"


async def test_create_schedule_bad_cron_422_creates_nothing(
    sched: tuple[Api, str], env: WorkflowEnvironment
) -> None:
    api, definition_id = sched
    body = {"name": "bad", "definition_id": definition_id, "cron": "61 * * * *"}
    r = await api.call("POST", "/schedules", api.operator, json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    error = r.json()["errors"][0]
    assert error["loc"] == ["body", "cron"] and "Minute is not in range" in error["msg"]
    assert (await api.call("GET", "/schedules")).json()["count"] == 0
    assert not await in_temporal(env.client, f"{api.admin.tenant}.bad")


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"cron": "* * * * * *"}, ["body", "cron"]),  # six fields: per second
        ({"cron": "@every 5s"}, ["body", "cron"]),
        ({"cron": "@sometimes"}, ["body", "cron"]),
        ({"interval_seconds": 59}, ["body", "interval_seconds"]),
        ({"interval_seconds": HOUR, "jitter_seconds": -1}, ["body", "jitter_seconds"]),
        ({"interval_seconds": HOUR, "overlap": "sometimes"}, ["body", "overlap"]),
        ({}, ["body"]),  # neither interval nor cron
    ],
)
async def test_create_schedule_invalid_spec_422(
    sched: tuple[Api, str], env: WorkflowEnvironment, fields: dict, loc: list
) -> None:
    api, definition_id = sched
    r = await api.call("POST", "/schedules", json={"name": "bad", "definition_id": definition_id, **fields})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == loc
    assert not await in_temporal(env.client, f"{api.admin.tenant}.bad")


async def test_create_schedule_mass_assignment_422(sched: tuple[Api, str]) -> None:
    api, definition_id = sched
    for field, value in (
        ("schedule_id", "mine"),
        ("task_queue", f"vsc.{api.other.tenant}.cloud"),
        ("tenant_id", api.other.tenant),
        ("workflow_id", "mine"),
    ):
        body = {"name": "n", "definition_id": definition_id, "interval_seconds": HOUR, field: value}
        r = await api.call("POST", "/schedules", json=body)
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", field]


async def test_create_schedule_duplicate_name_409(sched: tuple[Api, str]) -> None:
    api, definition_id = sched
    await create(api, definition_id)
    r = await api.call(
        "POST", "/schedules", json={"name": "nightly", "definition_id": definition_id, "cron": "@daily"}
    )
    assert r.status_code == 409 and "already exists" in r.json()["detail"]
    assert (await api.call("GET", "/schedules")).json()["count"] == 1


async def test_create_schedule_temporal_refuses_409_leaves_no_row(
    sched: tuple[Api, str], env: WorkflowEnvironment
) -> None:
    api, definition_id = sched
    # A Temporal schedule under the derived id already exists (say, left by an operator).
    first = await create(api, definition_id)
    with tenant_session(api.engine, api.admin.tenant) as session:
        session.delete(session.get(Schedule, first["id"]))
    r = await api.call(
        "POST", "/schedules", json={"name": "nightly", "definition_id": definition_id, "cron": "@daily"}
    )
    assert r.status_code == 409, r.text
    assert (await api.call("GET", "/schedules")).json()["count"] == 0
    # The pre-existing Temporal schedule is untouched.
    described = await env.client.get_schedule_handle(first["schedule_id"]).describe()
    assert described.schedule.spec.intervals[0].every.total_seconds() == HOUR
    await env.client.get_schedule_handle(first["schedule_id"]).delete()


async def test_create_schedule_failure_after_temporal_leaves_nothing(
    sched: tuple[Api, str], env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, definition_id = sched

    async def broken(*_args: object) -> None:
        raise RuntimeError("the request fails after Temporal created the schedule")

    monkeypatch.setattr(schedules_route, "_public", broken)
    body = {"name": "nightly", "definition_id": definition_id, "interval_seconds": HOUR}
    with pytest.raises(RuntimeError):  # the in-process transport re-raises what became a 500
        await api.call("POST", "/schedules", json=body)
    monkeypatch.undo()
    assert (await api.call("GET", "/schedules")).json()["count"] == 0
    assert not await in_temporal(env.client, f"{api.admin.tenant}.nightly")


async def test_create_schedule_viewer_403(sched: tuple[Api, str]) -> None:
    api, definition_id = sched
    body = {"name": "n", "definition_id": definition_id, "interval_seconds": HOUR}
    assert (await api.call("POST", "/schedules", api.viewer, json=body)).status_code == 403


async def test_create_schedule_not_found(sched: tuple[Api, str], env: WorkflowEnvironment) -> None:
    api, _ = sched
    r = await api.call(
        "POST", "/schedules", json={"name": "n", "definition_id": "nope", "interval_seconds": HOUR}
    )
    assert r.status_code == 404
    assert not await in_temporal(env.client, f"{api.admin.tenant}.n")


async def test_create_schedule_other_tenant(sched: tuple[Api, str], env: WorkflowEnvironment) -> None:
    api, _ = sched
    await ready(api, api.other)
    foreign = await saved_definition(api, api.other)
    r = await api.call(
        "POST", "/schedules", json={"name": "n", "definition_id": foreign, "interval_seconds": HOUR}
    )
    assert r.status_code == 404
    assert not await in_temporal(env.client, f"{api.admin.tenant}.n")


async def test_list_schedules_happy(sched: tuple[Api, str]) -> None:
    api, definition_id = sched
    await create(api, definition_id, name="b-hourly")
    await create(api, definition_id, name="a-daily", cron="@daily", interval_seconds=None)
    listed = (await api.call("GET", "/schedules", api.viewer)).json()
    assert listed["count"] == 2 and [s["name"] for s in listed["data"]] == ["a-daily", "b-hourly"]
    assert all(s["state"] is not None for s in listed["data"])


async def test_list_schedules_other_tenant(sched: tuple[Api, str]) -> None:
    api, definition_id = sched
    await create(api, definition_id)
    foreign = await theirs(api)
    mine = (await api.call("GET", "/schedules")).json()["data"]
    assert foreign["id"] not in {s["id"] for s in mine} and len(mine) == 1
    assert [s["id"] for s in (await api.call("GET", "/schedules", api.other)).json()["data"]] == [
        foreign["id"]
    ]


async def test_read_schedule_happy(sched: tuple[Api, str]) -> None:
    api, definition_id = sched
    made = await create(api, definition_id)
    r = await api.call("GET", f"/schedules/{made['id']}", api.viewer)
    assert r.status_code == 200 and r.json()["schedule_id"] == made["schedule_id"]
    assert r.json()["state"]["num_actions"] == 0


async def test_read_schedule_not_found(sched: tuple[Api, str]) -> None:
    api, _ = sched
    assert (await api.call("GET", "/schedules/nope")).status_code == 404


async def test_read_schedule_other_tenant(sched: tuple[Api, str]) -> None:
    api, _ = sched
    foreign = await theirs(api)
    r = await api.call("GET", f"/schedules/{foreign['id']}")
    assert r.status_code == 404 and r.json()["detail"] == f"schedule {foreign['id']!r} not found"


async def test_read_schedule_gone_from_temporal(sched: tuple[Api, str], env: WorkflowEnvironment) -> None:
    api, definition_id = sched
    made = await create(api, definition_id)
    await env.client.get_schedule_handle(made["schedule_id"]).delete()
    assert (await api.call("GET", f"/schedules/{made['id']}")).json()["state"] is None
    assert (await api.call("POST", f"/schedules/{made['id']}/pause")).status_code == 404
    assert (await api.call("DELETE", f"/schedules/{made['id']}")).status_code == 204
    assert (await api.call("GET", f"/schedules/{made['id']}")).status_code == 404


async def test_pause_schedule_happy(sched: tuple[Api, str], env: WorkflowEnvironment) -> None:
    api, definition_id = sched
    made = await create(api, definition_id)
    r = await api.call("POST", f"/schedules/{made['id']}/pause", api.operator, json={"note": "ERP upgrade"})
    assert r.status_code == 200, r.text
    assert r.json()["state"]["paused"] is True and r.json()["state"]["note"] == "ERP upgrade"
    state = (await env.client.get_schedule_handle(made["schedule_id"]).describe()).schedule.state
    assert state.paused is True and state.note == "ERP upgrade"


async def test_pause_schedule_without_body(sched: tuple[Api, str], env: WorkflowEnvironment) -> None:
    api, definition_id = sched
    made = await create(api, definition_id)
    assert (await api.call("POST", f"/schedules/{made['id']}/pause")).status_code == 200
    state = (await env.client.get_schedule_handle(made["schedule_id"]).describe()).schedule.state
    assert state.paused is True and state.note == "paused through the console API"


async def test_pause_schedule_viewer_403(sched: tuple[Api, str]) -> None:
    api, definition_id = sched
    made = await create(api, definition_id)
    assert (await api.call("POST", f"/schedules/{made['id']}/pause", api.viewer)).status_code == 403


async def test_pause_schedule_not_found(sched: tuple[Api, str]) -> None:
    api, _ = sched
    assert (await api.call("POST", "/schedules/nope/pause")).status_code == 404


async def test_pause_schedule_other_tenant(sched: tuple[Api, str], env: WorkflowEnvironment) -> None:
    api, _ = sched
    foreign = await theirs(api)
    assert (await api.call("POST", f"/schedules/{foreign['id']}/pause")).status_code == 404
    assert (
        await env.client.get_schedule_handle(foreign["schedule_id"]).describe()
    ).schedule.state.paused is False


async def test_unpause_schedule_happy(sched: tuple[Api, str], env: WorkflowEnvironment) -> None:
    api, definition_id = sched
    made = await create(api, definition_id, paused=True)
    r = await api.call("POST", f"/schedules/{made['id']}/unpause", json={"note": "back"})
    assert r.status_code == 200 and r.json()["state"]["paused"] is False
    state = (await env.client.get_schedule_handle(made["schedule_id"]).describe()).schedule.state
    assert state.paused is False and state.note == "back"


async def test_unpause_schedule_not_found(sched: tuple[Api, str]) -> None:
    api, _ = sched
    assert (await api.call("POST", "/schedules/nope/unpause")).status_code == 404


async def test_unpause_schedule_other_tenant(sched: tuple[Api, str], env: WorkflowEnvironment) -> None:
    api, _ = sched
    foreign = await theirs(api)
    await env.client.get_schedule_handle(foreign["schedule_id"]).pause(note="theirs")
    assert (await api.call("POST", f"/schedules/{foreign['id']}/unpause")).status_code == 404
    assert (
        await env.client.get_schedule_handle(foreign["schedule_id"]).describe()
    ).schedule.state.paused is True


async def test_trigger_schedule_happy(world: tuple[Api, Tenant], env: WorkflowEnvironment) -> None:  # noqa: F811
    api, tenant = world
    definition_id = await saved_definition(api)
    try:
        made = await create(api, definition_id, paused=True)  # only the trigger may start a run
        async with running(tenant):
            r = await api.call("POST", f"/schedules/{made['id']}/trigger", api.operator)
            assert r.status_code == 202, r.text
            handle = env.client.get_schedule_handle(made["schedule_id"])
            while not (await handle.describe()).info.recent_actions:  # noqa: ASYNC110 - state in Temporal
                await asyncio.sleep(0.1)
            action = (await handle.describe()).info.recent_actions[0].action
            wid = action.workflow_id
            await env.client.get_workflow_handle(wid).result()
        assert wid.startswith(f"{tenant.name}.nightly-")
        listed = (await api.call("GET", "/executions", api.viewer)).json()["data"]
        assert [(e["workflow_id"], e["status"], e["task_queue"], e["definition_id"]) for e in listed] == [
            (wid, "COMPLETED", f"vsc.{tenant.name}.cloud", made["definition_id"])
        ]
        with sqlite3.connect(tenant.home / "dw.db") as db:
            assert db.execute("SELECT count(*) FROM orders").fetchone() == (25,)
        read = (await api.call("GET", f"/schedules/{made['id']}")).json()["state"]
        assert read["num_actions"] == 1 and read["recent_actions"][0]["workflow_id"] == wid
        assert read["paused"] is True
    finally:
        await forget_schedules(api, env.client)


async def test_trigger_schedule_viewer_403(sched: tuple[Api, str]) -> None:
    api, definition_id = sched
    made = await create(api, definition_id)
    assert (await api.call("POST", f"/schedules/{made['id']}/trigger", api.viewer)).status_code == 403


async def test_trigger_schedule_not_found(sched: tuple[Api, str]) -> None:
    api, _ = sched
    assert (await api.call("POST", "/schedules/nope/trigger")).status_code == 404


async def test_trigger_schedule_other_tenant(sched: tuple[Api, str], env: WorkflowEnvironment) -> None:
    api, _ = sched
    foreign = await theirs(api)
    assert (await api.call("POST", f"/schedules/{foreign['id']}/trigger")).status_code == 404
    assert (await env.client.get_schedule_handle(foreign["schedule_id"]).describe()).info.num_actions == 0


async def test_delete_schedule_happy(sched: tuple[Api, str], env: WorkflowEnvironment) -> None:
    api, definition_id = sched
    made = await create(api, definition_id)
    assert (await api.call("DELETE", f"/schedules/{made['id']}", api.operator)).status_code == 204
    assert not await in_temporal(env.client, made["schedule_id"])
    assert (await api.call("GET", f"/schedules/{made['id']}")).status_code == 404
    # The name is free again.
    assert (await create(api, definition_id))["schedule_id"] == made["schedule_id"]


async def test_delete_schedule_viewer_403(sched: tuple[Api, str], env: WorkflowEnvironment) -> None:
    api, definition_id = sched
    made = await create(api, definition_id)
    assert (await api.call("DELETE", f"/schedules/{made['id']}", api.viewer)).status_code == 403
    assert await in_temporal(env.client, made["schedule_id"])


async def test_delete_schedule_not_found(sched: tuple[Api, str]) -> None:
    api, _ = sched
    assert (await api.call("DELETE", "/schedules/nope")).status_code == 404


async def test_delete_schedule_other_tenant(sched: tuple[Api, str], env: WorkflowEnvironment) -> None:
    api, _ = sched
    foreign = await theirs(api)
    assert (await api.call("DELETE", f"/schedules/{foreign['id']}")).status_code == 404
    assert await in_temporal(env.client, foreign["schedule_id"])
    assert (await api.call("GET", f"/schedules/{foreign['id']}", api.other)).status_code == 200
