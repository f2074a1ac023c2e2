"""Saving a Mode 2 definition (3.1.2, 3.2.1, 3.2.2, 3.3.3) checks every API reference against the registry.

Each refusal is a 422 naming the field at fault, and nothing is saved: an unknown API or version,
an operation the pinned version lacks or that was not granted write, an API on the wrong side of
the network, a local API reached by another agent.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.console_api.api.openapi_docs import V1, api_body

from .conftest import Api, enroll

LOCAL = {"accessibility": "local", "agent": "edge-1", "secret": None, "base_url": "http://erp.internal:3000"}


def db_to_api(**api: Any) -> dict[str, Any]:
    return {
        "name": "push",
        "pattern": "3.1.2",
        "input": {
            "agent": "edge-1",
            "source_connection": "erp",
            "source_table": "orders",
            "key": ["id"],
            "api": {"api": "erp-api", "version": 1},
            "operation": "create_order",
        }
        | api,
    }


def api_to_api(**fields: Any) -> dict[str, Any]:
    return {
        "name": "relay",
        "pattern": "3.3.3",
        "input": {
            "agent": "edge-1",
            "source": {"api": "erp-api", "version": 1},
            "list_operation": "list_orders",
            "destination": {"api": "orders", "version": 1},
            "operation": "create_order",
        }
        | fields,
    }


@pytest.fixture
async def registered(api: Api) -> Api:
    """A local API (agent edge-1, createOrder granted write), an internet one, a local connection."""
    enroll(api.engine, api.admin.tenant)
    enroll(api.engine, api.admin.tenant, agent_id="edge-2")
    local = api_body("erp-api", V1, writable_operations=["create_order"], **LOCAL)
    for body in (local, api_body("orders", V1, writable_operations=["create_order"]), api_body("ro", V1)):
        r = await api.call("POST", "/apis", json=body)
        assert r.status_code == 201, r.text
    connection = {
        "name": "erp",
        "kind": "postgresql",
        "location": "local",
        "agent": "edge-1",
        "credential_name": "erp",
    }
    r = await api.call("POST", "/connections", json=connection)
    assert r.status_code == 201, r.text
    warehouse = {
        "name": "dw",
        "kind": "postgresql",
        "location": "cloud",
        "config": {"host": "db", "port": 5432},
        "secret": {"password": "pw"},
    }
    r = await api.call("POST", "/connections", json=warehouse)
    assert r.status_code == 201, r.text
    return api


def cloud_db_to_api(**fields: Any) -> dict[str, Any]:
    """Pattern 3.2.2: the cloud warehouse's table to the internet API ``orders``."""
    body = db_to_api(**({"api": {"api": "orders"}, "source_connection": "dw"} | fields))
    if "agent" not in fields:
        body["input"].pop("agent")
    return {**body, "name": "dw-push", "pattern": "3.2.2"}


def saas_to_saas(**fields: Any) -> dict[str, Any]:
    """Pattern 3.2.1: internet API ``ro`` listed, posted to internet API ``orders``."""
    body = api_to_api(**({"source": {"api": "ro"}, "destination": {"api": "orders"}} | fields))
    if "agent" not in fields:
        body["input"].pop("agent")
    return {**body, "name": "saas", "pattern": "3.2.1"}


async def test_valid_mode2_definitions_are_saved_with_their_versions(registered: Api) -> None:
    for body, fields in (
        (cloud_db_to_api(), ("api",)),
        (saas_to_saas(), ("source", "destination")),
        (db_to_api(api={"api": "erp-api"}), ("api",)),
        (api_to_api(), ("source", "destination")),
    ):
        r = await registered.call("POST", "/workflow-definitions", registered.operator, json=body)
        assert r.status_code == 201, r.text
        assert all(r.json()["input"][f]["version"] == 1 for f in fields), r.json()


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (db_to_api(api={"api": "nope", "version": 1}), "api", "not found"),
        (db_to_api(api={"api": "erp-api", "version": 9}), "api", "version"),
        (db_to_api(operation="no_such_op"), "operation", "has no operation 'no_such_op'"),
        (
            db_to_api(api={"api": "orders", "version": 1}),
            "api",
            "needs a local API here; 'orders' is an internet API",
        ),
        (db_to_api(agent="edge-2"), "source_connection", "local connection of agent 'edge-2'"),
        (db_to_api(agent="edge-9"), "agent", "no enrolled, unrevoked agent"),
        (api_to_api(list_operation="no_such_op"), "list_operation", "has no operation"),
        (api_to_api(destination={"api": "ro", "version": 1}), "operation", "not granted write"),
        (
            api_to_api(source={"api": "orders", "version": 1}, destination={"api": "erp-api", "version": 1}),
            "source",
            "needs a local API here; 'orders' is an internet API",
        ),
        (api_to_api(agent="edge-2"), "source", "reached by agent 'edge-1', not 'edge-2'"),
        (api_to_api(agent=None), "agent", "needs the agent that reaches its local side"),
        (cloud_db_to_api(agent="edge-1"), "agent", "runs in the cloud; leave `agent` out"),
        (cloud_db_to_api(source_connection="erp"), "source_connection", "reads a cloud connection"),
        (
            cloud_db_to_api(api={"api": "erp-api"}),
            "api",
            "needs an internet API here; 'erp-api' is a local API",
        ),
        (
            saas_to_saas(source={"api": "erp-api"}),
            "source",
            "needs an internet API here; 'erp-api' is a local",
        ),
    ],
)
async def test_a_definition_with_a_bad_api_reference_is_refused_at_its_field(
    registered: Api, body: dict[str, Any], field: str, message: str
) -> None:
    r = await registered.call("POST", "/workflow-definitions", registered.operator, json=body)
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["loc"][-1] == field and message in error["msg"], error
    listed = await registered.call("GET", "/workflow-definitions", registered.operator)
    assert listed.json()["count"] == 0, listed.text
