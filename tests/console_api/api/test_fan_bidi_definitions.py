"""Patterns 3.4.1, 3.4.2 and 3.4.3 as console definitions: checked and routed on save, run and scheduled.

Saving needs no workers: every connection the input names is checked against the side the input
declares and its write grant, each refusal a 422 at its field with nothing saved. One fan-out
(an agent's PostgreSQL to two cloud PostgreSQL databases) then runs through ``POST /executions``
and through a triggered schedule on real workers, with counts and content hashes on every end.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pydantic import BaseModel
from sqlalchemy.engine import make_url
from temporalio.testing import WorkflowEnvironment

from tests.console_api.api.test_schedules import forget_schedules
from tests.workflows.harness import Tenant, running
from workflows.bidi_types import BidiInput
from workflows.fan_types import FanInInput, FanOutInput, FanOutResult

from .conftest import Api, MakeApi, come_online, enroll, new_tenant

ROWS = 120


def pg_config(url: str) -> dict[str, Any]:
    """The saved config of a cloud PostgreSQL connection (loopback trusts it: no secret)."""
    u = make_url(url)
    return {"host": u.host, "port": u.port, "database": u.database, "user": u.username}


def local(name: str, agent: str = "edge-1", *, write: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "postgresql",
        "location": "local",
        "agent": agent,
        "credential_name": name,
        "write": write,
    }


def cloud(name: str, url: str, *, write: bool = True) -> dict[str, Any]:
    return {"name": name, "kind": "postgresql", "location": "cloud", "config": pg_config(url), "write": write}


async def add(api: Api, *bodies: dict[str, Any]) -> None:
    for body in bodies:
        r = await api.call("POST", "/connections", json=body)
        assert r.status_code == 201, r.text


FAN_OUT: dict[str, Any] = {
    "name": "items-fan",
    "pattern": "3.4.1",
    "input": {
        "agent": "edge-1",
        "source": {"connection": "erp", "kind": "local_db"},
        "table": {"source_table": "items"},
        "destinations": [
            {"connection": "cloud_a", "kind": "cloud_db"},
            {"connection": "cloud_b", "kind": "cloud_db"},
        ],
        "limits": {"batch_rows": 50},
        "retry": {"initial_seconds": 0.2, "maximum_seconds": 1.0, "deadline_seconds": 60},
    },
}
FAN_IN: dict[str, Any] = {
    "name": "items-merge",
    "pattern": "3.4.2",
    "input": {
        "agent": "edge-1",
        "sources": [
            {"endpoint": {"connection": "erp", "kind": "local_db"}, "table": "items"},
            {"endpoint": {"connection": "cloud_ro", "kind": "cloud_db"}, "table": "items"},
        ],
        "key": ["id"],
        "version_column": "updated_at",
        "destination": {"connection": "cloud_a", "kind": "cloud_db"},
        "destination_table": "items",
    },
}
BIDI: dict[str, Any] = {
    "name": "items-both-ways",
    "pattern": "3.4.3",
    "input": {
        "agent": "edge-1",
        "pipeline": "items_bidi",
        "left": {"connection": "dw", "table": "items", "location": "local"},
        "right": {"connection": "cloud_a", "table": "items", "location": "cloud"},
        "change_column": "updated_at",
        "policy": "source_priority",
        "priority": "left",
    },
}


@pytest.fixture
async def saving(api: Api) -> Api:
    """The tenant's agent ``edge-1`` with ``erp`` (read) and ``dw`` (write), ``far`` of agent ``edge-2``,
    and cloud ``cloud_a``/``cloud_b`` (write) and ``cloud_ro`` (read only). No database is reached."""
    url = "postgresql://postgres@127.0.0.1:5432/unused"
    await add(
        api,
        local("erp"),
        local("dw", write=True),
        local("far", "edge-2", write=True),
        cloud("cloud_a", url),
        cloud("cloud_b", url),
        cloud("cloud_ro", url, write=False),
    )
    enroll(api.engine, api.admin.tenant)
    enroll(api.engine, api.admin.tenant, "edge-2")
    return api


MODELS: dict[str, type[BaseModel]] = {"3.4.1": FanOutInput, "3.4.2": FanInInput, "3.4.3": BidiInput}


def steps(api: Api, *where: tuple[str, str]) -> list[dict[str, str]]:
    queues = {"agent": f"vsc.{api.admin.tenant}.agent.edge-1", "cloud": f"vsc.{api.admin.tenant}.cloud"}
    return [{"kind": kind, "location": at, "queue": queues[at]} for kind, at in where]


@pytest.mark.parametrize(
    ("body", "plan"),
    [
        (FAN_OUT, [("extract", "agent"), ("load", "cloud"), ("load", "cloud")]),
        (FAN_IN, [("extract", "agent"), ("extract", "cloud"), ("load", "cloud")]),
        (
            BIDI,
            [
                ("extract", "agent"),
                ("extract", "cloud"),
                ("transform", "agent"),
                ("load", "agent"),
                ("load", "cloud"),
            ],
        ),
    ],
    ids=["3.4.1", "3.4.2", "3.4.3"],
)
async def test_saved_with_its_plan(saving: Api, body: dict[str, Any], plan: list[tuple[str, str]]) -> None:
    api = saving
    r = await api.call("POST", "/workflow-definitions", api.operator, json=body)
    assert r.status_code == 201, r.text
    saved = r.json()
    assert (saved["pattern"], saved["version"]) == (body["pattern"], 1)
    assert saved["plan"] == {"steps": steps(api, *plan), "uses_buffer": True}
    model = MODELS[body["pattern"]]  # saved as the workflow will read it
    assert model.model_validate(saved["input"]) == model.model_validate(body["input"])
    read = (await api.call("GET", f"/workflow-definitions/{saved['id']}", api.viewer)).json()
    assert read["plan"] == saved["plan"] and read["input"] == saved["input"]


def edit(body: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """``body`` with ``input.<path>`` set to ``value`` (deleted when ``value`` is ``...``)."""
    changed = copy.deepcopy(body)
    node = changed["input"]
    for part in path[:-1]:
        node = node[part]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return changed


BIDI_LWW = edit(edit(BIDI, ("priority",), ...), ("policy",), ...)  # default policy: last_writer_wins

REFUSALS = [
    # (body, path to change, new value, loc under body.input, words of the message)
    (
        FAN_OUT,
        ("destinations", 1, "connection"),
        "nowhere",
        ("destinations", 1, "connection"),
        "no connection",
    ),
    (
        FAN_OUT,
        ("destinations", 0, "kind"),
        "local_db",
        ("destinations", 0, "connection"),
        "but the connection is cloud",
    ),
    (
        FAN_OUT,
        ("destinations", 1, "connection"),
        "cloud_ro",
        ("destinations", 1, "connection"),
        "not granted write",
    ),
    (FAN_OUT, ("source", "connection"), "far", ("source", "connection"), "reached by agent 'edge-2'"),
    (FAN_OUT, ("agent",), "edge-9", ("agent",), "no enrolled, unrevoked agent"),
    (
        FAN_OUT,
        ("destinations",),
        [{"connection": "dw", "kind": "local_db"}],
        ("destinations",),
        "every endpoint",
    ),
    (FAN_OUT, ("destinations", 0, "kind"), "saas", ("destinations", 0, "kind"), "local_db"),
    (
        FAN_IN,
        ("sources", 1, "endpoint", "connection"),
        "nowhere",
        ("sources", 1, "endpoint", "connection"),
        "no connection",
    ),
    (FAN_IN, ("destination", "connection"), "cloud_ro", ("destination", "connection"), "not granted write"),
    (BIDI, ("priority",), ..., ("priority",), "needs `priority`"),
    (BIDI, ("policy",), "last_writer_wins", ("priority",), "source_priority only"),
    (BIDI, ("agent",), ..., ("agent",), "needs the agent"),
    # no change_column (trigger detection) leaves last_writer_wins nothing to compare
    (
        edit(BIDI_LWW, ("change_column",), ...),
        ("policy",),
        "last_writer_wins",
        ("policy",),
        "compares change_column",
    ),
    (BIDI, ("right", "connection"), "cloud_ro", ("right", "connection"), "not granted write"),
    (BIDI, ("right", "location"), "local", ("right", "connection"), "but the connection is cloud"),
    (BIDI, ("agent",), "edge-9", ("agent",), "no enrolled, unrevoked agent"),
]


@pytest.mark.parametrize(("body", "path", "value", "loc", "words"), REFUSALS)
async def test_refused_at_the_field_and_nothing_saved(
    saving: Api, body: dict[str, Any], path: tuple[Any, ...], value: Any, loc: tuple[Any, ...], words: str
) -> None:
    api = saving
    r = await api.call("POST", "/workflow-definitions", api.operator, json=edit(body, path, value))
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["loc"] == ["body", "input", *loc] and words in error["msg"], error
    assert (await api.call("GET", "/workflow-definitions")).json()["count"] == 0


async def test_a_cloud_only_bidi_takes_no_agent(saving: Api) -> None:
    api = saving
    both_cloud = edit(
        edit(BIDI, ("left",), {"connection": "cloud_b", "table": "items", "location": "cloud"}),
        ("agent",),
        ...,
    )
    r = await api.call("POST", "/workflow-definitions", json=both_cloud)
    assert r.status_code == 201, r.text
    assert r.json()["plan"]["steps"] == steps(
        api,
        ("extract", "cloud"),
        ("extract", "cloud"),
        ("transform", "cloud"),
        ("load", "cloud"),
        ("load", "cloud"),
    )
    r = await api.call("POST", "/workflow-definitions", json=edit(both_cloud, ("agent",), "edge-1"))
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "input", "agent"], r.text


HASH = "SELECT count(*), md5(coalesce(string_agg(id::text || ':' || name, ',' ORDER BY id), '')) FROM items"


def table_state(url: str) -> tuple[int, str]:
    with psycopg.connect(url) as conn:
        count, digest = conn.execute(HASH).fetchone()  # type: ignore[misc]
    return int(count), str(digest)


async def test_a_fan_out_runs_through_executions_and_a_schedule(
    make_api: MakeApi, env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str]
) -> None:
    name = new_tenant()
    api = await make_api(tenant=name, temporal=env.client)
    urls = {n: pg_database(n) for n in ("erp", "cloud_a", "cloud_b")}
    with psycopg.connect(urls["erp"], autocommit=True) as conn:
        conn.execute("CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)")
        conn.execute("INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, %s) g", [ROWS])
    await add(api, local("erp"), cloud("cloud_a", urls["cloud_a"]), cloud("cloud_b", urls["cloud_b"]))
    enroll(api.engine, name)
    saved = await api.call("POST", "/workflow-definitions", api.operator, json=FAN_OUT)
    assert saved.status_code == 201, saved.text
    definition_id = saved.json()["id"]
    run = {"definition_id": definition_id}

    # Run parameters are a table sync's; the agent must be online before anything starts.
    r = await api.call("POST", "/executions", api.operator, json={**run, "params": {"verify": False}})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "params"], r.text
    r = await api.call("POST", "/executions", api.operator, json=run)
    assert r.status_code == 409 and "no member online" in r.json()["detail"], r.text
    come_online(api.engine, name)

    tenant = Tenant(client=env.client, home=tmp_path, name=name)
    tenant.agent_connections = [{"name": "erp", "kind": "postgresql", "url": urls["erp"]}]
    source = table_state(urls["erp"])
    try:
        async with running(tenant):
            r = await api.call("POST", "/executions", api.operator, json=run)
            assert r.status_code == 201, r.text
            assert r.json()["workflow_type"] == "FanOutSync"
            handle = env.client.get_workflow_handle(r.json()["workflow_id"], result_type=FanOutResult)
            result = await handle.result()
            assert (result.rows_extracted, result.chunks, result.complete) == (ROWS, 3, True)
            assert [(d.connection, d.rows_written) for d in result.destinations] == [
                ("cloud_a", ROWS),
                ("cloud_b", ROWS),
            ]
            for n in ("cloud_a", "cloud_b"):
                assert table_state(urls[n]) == source and source[0] == ROWS
            read = await api.call("GET", f"/executions/{r.json()['workflow_id']}")
            assert read.status_code == 200 and read.json()["status"] == "COMPLETED", read.text
            assert read.json()["definition_id"] == definition_id

            # The same definition on a schedule: a trigger starts the same workflow type.
            with psycopg.connect(urls["erp"], autocommit=True) as conn:
                conn.execute("UPDATE items SET name = 'renamed ' || id WHERE id <= 10")
            body = {
                "name": "fan-hourly",
                "definition_id": definition_id,
                "interval_seconds": 3600,
                "paused": True,
            }
            made = await api.call("POST", "/schedules", api.operator, json=body)
            assert made.status_code == 201, made.text
            r = await api.call("POST", f"/schedules/{made.json()['id']}/trigger", api.operator)
            assert r.status_code == 202, r.text
            schedule = env.client.get_schedule_handle(made.json()["schedule_id"])
            while not (await schedule.describe()).info.recent_actions:  # noqa: ASYNC110 - state in Temporal
                await asyncio.sleep(0.1)
            wid = (await schedule.describe()).info.recent_actions[0].action.workflow_id
            scheduled = env.client.get_workflow_handle(wid, result_type=FanOutResult)
            again = await scheduled.result()
            assert again.complete and (await scheduled.describe()).workflow_type == "FanOutSync"
    finally:
        await forget_schedules(api, env.client)
    changed = table_state(urls["erp"])
    assert changed != source
    for n in ("cloud_a", "cloud_b"):
        assert table_state(urls[n]) == changed and changed[0] == ROWS


async def test_a_webhook_is_refused_for_a_pattern_that_does_not_act_on_events(saving: Api) -> None:
    api = saving
    saved = await api.call("POST", "/workflow-definitions", api.operator, json=FAN_OUT)
    assert saved.status_code == 201, saved.text
    r = await api.call("POST", "/webhooks", json={"name": "fan-hook", "definition_id": saved.json()["id"]})
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["loc"][-1] == "definition_id" and "cannot be triggered by a webhook" in error["msg"], error
    assert (await api.call("GET", "/webhooks")).json()["count"] == 0
