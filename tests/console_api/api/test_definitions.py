"""Workflow definitions: validated against the tenant's connections and agents, routed, versioned."""

from __future__ import annotations

from .conftest import Api, enroll


async def setup_connections(api: Api, caller=None, *, cloud_dest: bool = False) -> None:
    conns = [
        {"name": "erp", "kind": "sqlite", "location": "local", "agent": "edge-1", "credential_name": "erp"},
        {
            "name": "dw",
            "kind": "sqlite",
            "location": "local",
            "agent": "edge-1",
            "credential_name": "dw",
            "write": True,
        },
        {
            "name": "cloud_dw",
            "kind": "postgresql",
            "location": "cloud",
            "secret": {"password": "x"},
            "write": True,
        },
    ]
    for body in conns:
        r = await api.call("POST", "/connections", caller, json=body)
        assert r.status_code == 201, r.text


def definition(pattern: str = "3.1.1", destination: str = "dw", **input_extra) -> dict:
    return {
        "name": "orders",
        "pattern": pattern,
        "input": {
            "agent": "edge-1",
            "source_connection": "erp",
            "destination_connection": destination,
            "tables": [{"source_table": "orders"}],
            **input_extra,
        },
    }


async def ready(api: Api, caller=None) -> None:
    await setup_connections(api, caller)
    enroll(api.engine, (caller or api.admin).tenant)


async def test_create_workflow_definition_happy(api: Api) -> None:
    await ready(api)
    r = await api.call("POST", "/workflow-definitions", api.operator, json=definition())
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["version"] == 1 and len(body["content_hash"]) == 64
    assert body["plan"] == {
        "steps": [{"kind": "sync", "location": "agent", "queue": f"vsc.{api.admin.tenant}.agent.edge-1"}],
        "uses_buffer": False,
    }
    again = (await api.call("POST", "/workflow-definitions", json=definition())).json()
    assert (
        again["version"] == 2 and again["content_hash"] == body["content_hash"] and again["id"] != body["id"]
    )


async def test_create_workflow_definition_plan_local_to_cloud(api: Api) -> None:
    await ready(api)
    body = definition(
        "3.3.1", "cloud_dw", tables=[{"source_table": "orders", "transform": {"filter": "id > 0"}}]
    )
    r = await api.call("POST", "/workflow-definitions", json=body)
    assert r.status_code == 201, r.text
    plan = r.json()["plan"]
    assert plan["uses_buffer"] is True
    assert [(s["kind"], s["location"]) for s in plan["steps"]] == [
        ("extract", "agent"),
        ("transform", "cloud"),
        ("load", "cloud"),
    ]


async def test_create_workflow_definition_plan_cloud_to_local(api: Api) -> None:
    await ready(api)
    body = definition(
        "3.3.2",
        "dw",
        source_connection="cloud_dw",
        tables=[{"source_table": "orders", "transform": {"filter": "id > 0"}}],
    )
    r = await api.call("POST", "/workflow-definitions", json=body)
    assert r.status_code == 201, r.text
    plan = r.json()["plan"]
    assert plan["uses_buffer"] is True
    assert [(s["kind"], s["location"]) for s in plan["steps"]] == [
        ("extract", "cloud"),
        ("transform", "cloud"),
        ("load", "agent"),
    ]
    wrong = definition("3.3.2", "dw")  # a local source
    r = await api.call("POST", "/workflow-definitions", json=wrong)
    assert r.status_code == 422 and "needs a cloud connection" in r.json()["detail"]


async def test_create_workflow_definition_unknown_connection_422(api: Api) -> None:
    await ready(api)
    r = await api.call("POST", "/workflow-definitions", json=definition(destination="nope"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "input", "destination_connection"]
    assert "'nope'" in r.json()["detail"]


async def test_create_workflow_definition_other_tenants_connection_422(api: Api) -> None:
    await ready(api, api.other)
    r = await api.call("POST", "/workflow-definitions", json=definition())
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "input", "source_connection"]


async def test_create_workflow_definition_wrong_side_422(api: Api) -> None:
    await ready(api)
    r = await api.call("POST", "/workflow-definitions", json=definition("3.1.1", "cloud_dw"))
    assert r.status_code == 422 and "needs a local connection" in r.json()["detail"]


async def test_create_workflow_definition_agent_not_enrolled_422(api: Api) -> None:
    await setup_connections(api)
    r = await api.call("POST", "/workflow-definitions", json=definition())
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "input", "agent"]


async def test_create_workflow_definition_state_422(api: Api) -> None:
    await ready(api)
    r = await api.call("POST", "/workflow-definitions", json=definition(state={"table_index": 3}))
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "input"]


async def test_create_workflow_definition_task_queue_mass_assignment_422(api: Api) -> None:
    await ready(api)
    body = {**definition(), "task_queue": f"vsc.{api.other.tenant}.cloud"}
    r = await api.call("POST", "/workflow-definitions", json=body)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "task_queue"]


async def test_create_workflow_definition_viewer_403(api: Api) -> None:
    await ready(api)
    assert (await api.call("POST", "/workflow-definitions", api.viewer, json=definition())).status_code == 403


async def test_read_workflow_definition_happy(api: Api) -> None:
    await ready(api)
    made = (await api.call("POST", "/workflow-definitions", json=definition())).json()
    r = await api.call("GET", f"/workflow-definitions/{made['id']}", api.viewer)
    assert r.status_code == 200 and r.json() == made
    assert r.json()["input"]["source_connection"] == "erp" and "state" not in r.json()["input"]


async def test_read_workflow_definition_not_found(api: Api) -> None:
    assert (await api.call("GET", "/workflow-definitions/nope")).status_code == 404


async def test_read_workflow_definition_other_tenant(api: Api) -> None:
    await ready(api, api.other)
    theirs = (await api.call("POST", "/workflow-definitions", api.other, json=definition())).json()
    assert (await api.call("GET", f"/workflow-definitions/{theirs['id']}")).status_code == 404


async def test_list_workflow_definitions_excludes_other_tenant(api: Api) -> None:
    await ready(api, api.other)
    await api.call("POST", "/workflow-definitions", api.other, json=definition())
    await ready(api)
    mine = (await api.call("POST", "/workflow-definitions", json=definition())).json()
    listed = (await api.call("GET", "/workflow-definitions", params={"name": "orders"})).json()
    assert [d["id"] for d in listed["data"]] == [mine["id"]]


REVENUE = {
    "destination_table": "revenue_by_customer",
    "plan": {
        "inputs": ["orders"],
        "steps": [
            {
                "op": "aggregate",
                "name": "by_customer",
                "source": "orders",
                "group_by": ["customer_id"],
                "aggregates": [{"name": "revenue", "fn": "sum", "column": "amount"}],
            }
        ],
    },
}


async def test_create_workflow_definition_with_derived_tables(api: Api) -> None:
    await ready(api)
    r = await api.call(
        "POST", "/workflow-definitions", json=definition("3.3.1", "cloud_dw", derived=[REVENUE])
    )
    assert r.status_code == 201, r.text
    saved = r.json()
    assert saved["input"]["derived"][0]["plan"]["steps"][0]["group_by"] == ["customer_id"]
    # No row transform: the transform step is the derived tables' set-level one.
    assert [(s["kind"], s["location"]) for s in saved["plan"]["steps"]] == [
        ("extract", "agent"),
        ("transform", "cloud"),
        ("load", "cloud"),
    ]
    plain = (await api.call("POST", "/workflow-definitions", json=definition("3.3.1", "cloud_dw"))).json()
    assert "derived" not in plain["input"]  # definitions without it keep their earlier hash
    unknown = {**REVENUE, "plan": {**REVENUE["plan"], "inputs": ["invoices"]}}
    unknown["plan"]["steps"] = [{**REVENUE["plan"]["steps"][0], "source": "invoices"}]
    r = await api.call(
        "POST", "/workflow-definitions", json=definition("3.3.1", "cloud_dw", derived=[unknown])
    )
    assert r.status_code == 422 and "'invoices', which is no source_table" in r.json()["detail"]
    r = await api.call("POST", "/workflow-definitions", json=definition("3.1.1", "dw", derived=[REVENUE]))
    assert r.status_code == 422 and "run in pattern 3.3.1 only, not 3.1.1" in r.json()["detail"]
