"""TESTPLAN S4 over the whole OpenAPI: tenant A's admin key against every object of tenant B.

Every operation whose path names an object is called with B's real ids (made through B's own
API calls) and must answer 404, exactly like a missing object; every list must leave B's ids
out; afterwards B's objects are unchanged. A new route with a new path parameter fails this
test until an object for it is added here, so coverage stays at 100 % of operations.
"""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.metadata import list_conflicts, park_conflicts, tenant_session

from .conftest import Api, Caller, MakeApi, come_online, enroll
from .openapi_docs import V1, api_body
from .test_definitions import definition, setup_connections

# Paths that are not tenant objects: global catalogs and the signature-authenticated hook receiver.
NOT_TENANT_OBJECTS: set[str] = {
    "/marketplace/{kind}",
    "/marketplace/{kind}/install",
    "/hooks/{tenant}/{hook_id}",
}
# Valid bodies, so a refusal is about ownership and not about a malformed request.
BODIES: dict[tuple[str, str], object] = {
    ("PATCH", "/connections/{connection_id}"): {"write": True},
    ("POST", "/executions/{workflow_id}/terminate"): {"reason": "probe"},
    ("POST", "/executions/{workflow_id}/signal"): {"name": "resume"},
    ("POST", "/schedules/{schedule_row_id}/pause"): {"note": "probe"},
    ("POST", "/schedules/{schedule_row_id}/unpause"): {"note": "probe"},
    ("POST", "/apis/{api_name}/refresh"): {"spec": V1},
    ("POST", "/conflicts/{conflict_id}/resolve"): {"winner": "left"},
}
# Path parameters that are not identifiers (a version number): they may appear in any listing.
NOT_IDS = {"version"}


async def _made(api: Api, method: str, path: str, caller: Caller, body: object) -> dict:
    r = await api.call(method, path, caller, json=body)
    assert r.status_code in (200, 201), (path, r.text)
    return r.json()


async def objects_of(api: Api, caller: Caller) -> dict[str, str]:
    """One object of every kind the API has, in ``caller``'s tenant, keyed by path parameter name."""
    await setup_connections(api, caller)
    enroll(api.engine, caller.tenant)
    come_online(api.engine, caller.tenant)
    connections = (await api.call("GET", "/connections", caller)).json()["data"]
    saved = await _made(api, "POST", "/workflow-definitions", caller, definition())
    run = await _made(api, "POST", "/executions", caller, {"definition_id": saved["id"]})
    [agent] = (await api.call("GET", "/agents", caller)).json()["data"]
    hook = await _made(api, "POST", "/webhooks", caller, {"name": "probe", "definition_id": saved["id"]})
    body = {"name": "probe", "definition_id": saved["id"], "interval_seconds": 3600, "paused": True}
    schedule = await _made(api, "POST", "/schedules", caller, body)
    registered = await _made(api, "POST", "/apis", caller, api_body("orders-probe"))
    # Conflicts are parked by a 3.4.3 run, never created through the API.
    with tenant_session(api.engine, caller.tenant) as session:
        park_conflicts(
            session,
            pipeline="probe",
            left_table="a",
            right_table="b",
            workflow_id="w",
            conflicts=[("[1]", "1", "2")],
        )
        [conflict] = list_conflicts(session, pipeline="probe")
        conflict_id = conflict.id
    return {
        "conflict_id": conflict_id,
        "api_name": registered["name"],
        "version": "1",
        "schedule_row_id": schedule["id"],
        "webhook_id": hook["id"],
        "key_id": caller.key_id,
        "connection_id": connections[0]["id"],
        "definition_id": saved["id"],
        "workflow_id": run["workflow_id"],
        "agent_row_id": agent["id"],
    }


@pytest.fixture
async def api(make_api: MakeApi, env: WorkflowEnvironment) -> Api:
    return await make_api(temporal=env.client)


async def test_every_object_operation_of_other_tenant_is_404(api: Api, env: WorkflowEnvironment) -> None:
    theirs = await objects_of(api, api.other)
    spec = api.app.openapi()
    total = covered = 0
    for path, operations in spec["paths"].items():
        for method in operations:
            total += 1
            if "{" not in path or path in NOT_TENANT_OBJECTS:
                continue
            params = [p["name"] for p in operations[method].get("parameters", []) if p["in"] == "path"]
            missing = [p for p in params if p not in theirs]
            assert not missing, f"{method.upper()} {path}: add an object for {missing} to objects_of()"
            url = path.format(**theirs)
            body = BODIES.get((method.upper(), path))
            r = await api.call(method.upper(), url, api.admin, json=body)
            assert r.status_code == 404, (method.upper(), path, r.status_code, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert theirs[params[-1]] in r.json()["detail"] or "not found" in r.json()["detail"]
            covered += 1
    listings = [p for p, ops in spec["paths"].items() if "{" not in p and "get" in ops]
    for path in listings:
        r = await api.call("GET", path, api.admin)
        assert r.status_code == 200, (path, r.text)
        for param, value in theirs.items():
            if param in NOT_IDS:
                continue
            assert value not in r.text, f"GET {path} shows tenant B's {value}"
    print(f"S4: {covered} object operations probed with B's ids, {len(listings)} lists, {total} operations")
    assert covered >= 10
    # B's objects are untouched: its key works, its connection and run are still there.
    assert (await api.call("GET", f"/connections/{theirs['connection_id']}", api.other)).status_code == 200
    assert (await api.call("GET", f"/api-keys/{theirs['key_id']}", api.other)).json()["revoked_at"] is None
    assert (await api.call("GET", f"/apis/{theirs['api_name']}", api.other)).json()["latest_version"] == 1
    described = (await api.call("GET", f"/executions/{theirs['workflow_id']}", api.other)).json()
    assert described["status"] == "RUNNING"
    described = (await api.call("GET", f"/schedules/{theirs['schedule_row_id']}", api.other)).json()
    assert described["state"]["paused"] is True
    await env.client.get_workflow_handle(theirs["workflow_id"]).terminate("test over")
    assert (await api.call("DELETE", f"/schedules/{theirs['schedule_row_id']}", api.other)).status_code == 204
