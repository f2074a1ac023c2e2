"""Issue 5 "spec updates": running and saved workflows keep their API version; upgrading is explicit.

The console registers the example van-sales API (real spec, real SDK builds through the shared
build cache: two specs), a 3.1.2 definition pins v1, and its run is held inside its first POST
(a gate in front of the API) while a breaking v2 is published. Real Temporal dev server, real
agent and cloud workers, real PostgreSQL source, real API on loopback.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi import Request, Response
from pydantic import SecretStr
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.api_sources import MappingSecrets
from examples.vansales_api.store import idempotency_keys, order_lines, orders
from tests.workflows.api_env import KEY_HEADER, ApiInstance, Faults, api_instance, vansales_spec
from tests.workflows.harness import Tenant, running
from workflows.api_types import ApiFlowResult

from .conftest import Api, MakeApi, come_online, enroll, new_tenant

pytestmark = pytest.mark.timeout(600)
ROWS = 60
KEY = "onprem-vansales-key-0042"
VAULT_NAME = "vansales-onprem"


@dataclass
class Gate(Faults):
    """Holds every POST until released; tells when the first one arrived."""

    entered: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    async def __call__(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.method == "POST" and not self.released.is_set():
            self.entered.set()
            await asyncio.to_thread(self.released.wait, 300)
        return await super().__call__(request, call_next)


def v2_spec() -> str:
    """Breaking for the API (``list_orders`` removed), compatible for the flow (``create_orders`` kept)."""
    doc = json.loads(vansales_spec())
    del doc["paths"]["/orders"]["get"]
    doc["info"]["version"] = "2.0.0"
    return json.dumps(doc)


def make_orders_table(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE van_orders (order_no text PRIMARY KEY, customer_id bigint NOT NULL,"
            " order_date date NOT NULL, status text NOT NULL, total_amount numeric(12,2) NOT NULL, note text)"
        )
        conn.execute(
            "INSERT INTO van_orders SELECT 'V' || lpad(i::text, 6, '0'), i % 7 + 1, date '2024-01-01' + i,"
            f" 'open', round(i * 1.5, 2), 'van ' || i FROM generate_series(1, {ROWS}) AS i"
        )


def clear(instance: ApiInstance) -> None:
    """Empty the API's store, so the next run's orders (same order numbers) are new to it."""
    with instance.store.engine.begin() as conn:
        for table in (order_lines, orders, idempotency_keys):
            conn.execute(table.delete())


def definition(version: int | None) -> dict[str, Any]:
    ref: dict[str, Any] = {"api": "vansales"} if version is None else {"api": "vansales", "version": version}
    return {
        "name": "orders-push",
        "pattern": "3.1.2",
        "input": {
            "agent": "edge-1",
            "source_connection": "erp",
            "source_table": "van_orders",
            "key": ["order_no"],
            "api": ref,
            "operation": "create_orders",
            "post": {"records_field": "orders"},
            "batch_rows": 20,
        },
    }


async def start(api: Api, definition_id: str) -> str:
    come_online(api.engine, api.admin.tenant)  # presence as the gateway records it; the builds took a while
    r = await api.call("POST", "/executions", api.operator, json={"definition_id": definition_id})
    assert r.status_code == 201, r.text
    return str(r.json()["workflow_id"])


async def sdk_of(env: WorkflowEnvironment, handle: WorkflowHandle) -> dict[str, Any]:
    """The SDK pin the run started with (its input in the history): what its activities load."""
    history = await handle.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    (raw,) = await env.client.data_converter.decode(list(started.input.payloads))
    assert raw["api"]["name"] == "vansales" and raw["api"]["credential"] == VAULT_NAME
    return dict(raw["api"]["sdk"])


async def finish(env: WorkflowEnvironment, workflow_id: str) -> tuple[ApiFlowResult, dict[str, Any]]:
    handle = env.client.get_workflow_handle(workflow_id, result_type=ApiFlowResult)
    return await handle.result(), await sdk_of(env, handle)


async def test_running_and_saved_definitions_keep_their_api_version_until_upgraded(
    make_api: MakeApi, env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str]
) -> None:
    name = new_tenant()
    api = await make_api(tenant=name, temporal=env.client)
    src = pg_database("erp")
    make_orders_table(src)
    tenant = Tenant(client=env.client, home=tmp_path, name=name)
    tenant.agent_connections = [{"name": "erp", "kind": "postgresql", "url": src}]
    tenant.agent_api_secrets = MappingSecrets(lambda: {VAULT_NAME: SecretStr(KEY)})
    for caller in (api.admin, api.other):
        r = await api.call(
            "POST",
            "/connections",
            caller,
            json={
                "name": "erp",
                "kind": "postgresql",
                "location": "local",
                "agent": "edge-1",
                "credential_name": "erp",
            },
        )
        assert r.status_code == 201, r.text
        enroll(api.engine, caller.tenant)
    come_online(api.engine, name)
    gate = Gate()
    with api_instance(tmp_path, "onprem", key=KEY, faults=gate) as instance:
        made = await api.call(
            "POST",
            "/apis",
            json={
                "name": "vansales",
                "base_url": instance.url,
                "spec": vansales_spec().decode(),
                "auth": {"kind": "api_key", "name": KEY_HEADER},
                "accessibility": "local",
                "agent": "edge-1",
                "agent_credential": VAULT_NAME,
                "writable_operations": ["create_orders"],
            },
        )
        assert made.status_code == 201, made.text
        assert made.json()["agent_credential"] == VAULT_NAME and made.json()["has_secret"] is False
        v1 = (await api.call("GET", "/apis/vansales/versions/1")).json()["artifacts"]
        # Saved without a version: the current one (1) is written into the saved definition.
        saved = await api.call("POST", "/workflow-definitions", api.operator, json=definition(None))
        assert saved.status_code == 201, saved.text
        assert saved.json()["input"]["api"] == {"api": "vansales", "version": 1}
        def_v1 = saved.json()["id"]
        # Another tenant does not see the API: its definition naming it is refused.
        other = await api.call("POST", "/workflow-definitions", api.other, json=definition(1))
        assert other.status_code == 422 and "API 'vansales' not found" in other.text, other.text

        async with running(tenant):
            first = await start(api, def_v1)
            assert await asyncio.to_thread(gate.entered.wait, 120), "the run never reached the API"
            handle = env.client.get_workflow_handle(first)
            assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
            # A breaking v2 is published while the run is inside its first POST.
            refreshed = await api.call("POST", "/apis/vansales/refresh", json={"spec": v2_spec()})
            assert refreshed.status_code == 200, refreshed.text
            body = refreshed.json()
            assert (body["status"], body["version"], body["diff"]["breaking"]) == ("held", 2, True)
            affected = [
                (d["name"], d["version"], d["api_version"]) for d in body["diff"]["affected_definitions"]
            ]
            assert affected == [("orders-push", 1, 1)]
            diff = (await api.call("GET", "/apis/vansales/diff", params={"from": 1, "to": 2})).json()
            assert diff["breaking"] and [d["name"] for d in diff["affected_definitions"]] == ["orders-push"]
            assert any("list_orders" in json.dumps(c) for c in diff["changes"] if c["breaking"])
            v2 = (await api.call("GET", "/apis/vansales/versions/2")).json()["artifacts"]
            assert v2["component"]["sha256"] != v1["component"]["sha256"]
            assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
            gate.released.set()

            result, sdk = await finish(env, first)
            assert sdk["version"] == 1 and sdk["component_sha256"] == v1["component"]["sha256"]
            assert sdk["description_sha256"] == v1["pin"]["description_sha256"]
            assert result.records_sent == ROWS and instance.orders_digest()[0] == ROWS

            # The same saved definition, run again after v2: still v1.
            clear(instance)
            result, sdk = await finish(env, await start(api, def_v1))
            assert sdk["component_sha256"] == v1["component"]["sha256"] and result.records_sent == ROWS

            # Deleting the API is refused while a saved definition pins it.
            assert (await api.call("DELETE", "/apis/vansales")).status_code == 409

            # The explicit upgrade: the definition's next version names API v2.
            upgraded = await api.call("POST", "/workflow-definitions", api.operator, json=definition(2))
            assert upgraded.status_code == 201, upgraded.text
            assert (upgraded.json()["version"], upgraded.json()["input"]["api"]["version"]) == (2, 2)
            clear(instance)
            result, sdk = await finish(env, await start(api, upgraded.json()["id"]))
            assert sdk["version"] == 2 and sdk["component_sha256"] == v2["component"]["sha256"]
            assert sdk["description_sha256"] == v2["pin"]["description_sha256"]
            assert result.records_sent == ROWS and instance.orders_digest()[0] == ROWS
        diff = (await api.call("GET", "/apis/vansales/diff", params={"from": 1, "to": 2})).json()
        assert sorted((d["version"], d["api_version"]) for d in diff["affected_definitions"]) == [
            (1, 1),
            (2, 2),
        ]
