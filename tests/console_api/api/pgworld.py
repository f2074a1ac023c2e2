"""A tenant whose agent reaches two PostgreSQL databases: a 20k-row source and a destination.

Shared by the control-flag and execution-control tests; the ``pg_world`` fixture is in conftest.
"""

from __future__ import annotations

from activities.metadata import AuditWriter
from tests.console_api.api.conftest import Api
from tests.workflows.harness import Tenant

PgWorld = tuple[Api, Tenant]


async def add_connections(api: Api, caller=None) -> None:
    for body in (
        {
            "name": "erp",
            "kind": "postgresql",
            "location": "local",
            "agent": "edge-1",
            "credential_name": "erp",
        },
        {
            "name": "dw",
            "kind": "postgresql",
            "location": "local",
            "agent": "edge-1",
            "credential_name": "dw",
            "write": True,
        },
    ):
        r = await api.call("POST", "/connections", caller, json=body)
        assert r.status_code == 201, r.text


def definition_body(max_rows: int = 5000) -> dict:
    return {
        "name": "items",
        "pattern": "3.1.1",
        "input": {
            "agent": "edge-1",
            "source_connection": "erp",
            "destination_connection": "dw",
            "tables": [{"source_table": "items"}],
            "limits": {"batch_rows": 100, "max_rows": max_rows},
        },
    }


async def start(api: Api, *, max_rows: int = 5000) -> str:
    r = await api.call("POST", "/workflow-definitions", api.operator, json=definition_body(max_rows))
    assert r.status_code == 201, r.text
    r = await api.call("POST", "/executions", api.operator, json={"definition_id": r.json()["id"]})
    assert r.status_code == 201, r.text
    return r.json()["workflow_id"]


def audit_actions(api: Api) -> list[tuple[str, str]]:
    return [(e.action, e.target) for e in AuditWriter(api.engine).query(api.admin.tenant, limit=1000)]
