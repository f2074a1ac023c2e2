"""The demo's last act: the same platform driven through the console REST API, as a tenant user would.

Registers the demo's connections (names of the credentials the agent's vault holds, and the
cloud warehouse), saves a workflow definition, runs it through ``POST /executions`` and
checks the audit chain, with the admin key ``vsc up`` saved for the CLI.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console

from console_api.client import ConsoleApiError, ConsoleClient
from console_api.demo_agent import DEMO_AGENT

CONNECTIONS: list[dict[str, Any]] = [
    {
        "name": "erp_pg",
        "kind": "postgresql",
        "location": "local",
        "agent": DEMO_AGENT,
        "credential_name": "erp_pg",
    },
    {
        "name": "local_dw",
        "kind": "postgresql",
        "location": "local",
        "agent": DEMO_AGENT,
        "credential_name": "local_dw",
        "write": True,
    },
]
DEFINITION: dict[str, Any] = {
    "name": "orders-to-warehouse",
    "pattern": "3.1.1",
    "input": {
        "agent": DEMO_AGENT,
        "source_connection": "erp_pg",
        "destination_connection": "local_dw",
        "tables": [{"source_table": "orders", "destination_table": "api_orders"}],
    },
}
_CLOSED = {"COMPLETED", "FAILED", "CANCELED", "TERMINATED", "TIMED_OUT"}


def _wait_closed(client: ConsoleClient, workflow_id: str, *, timeout: float = 600.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run: dict[str, Any] = client.get(f"/executions/{workflow_id}")
        if run["status"] in _CLOSED or time.monotonic() > deadline:
            return run
        time.sleep(1.0)


def run_console_flow(client: ConsoleClient, *, console: Console) -> bool:
    """Connections, a definition and a run through the API; True if it completed and the audit verifies."""
    try:
        existing = {c["name"] for c in client.get("/connections")["data"]}
        for body in CONNECTIONS:
            if body["name"] not in existing:
                client.post("/connections", body)
        saved = client.post("/workflow-definitions", DEFINITION)
        steps = ", ".join(f"{s['kind']} on {s['location']}" for s in saved["plan"]["steps"])
        console.print(f"console API: saved definition {saved['name']} v{saved['version']} ({steps})")
        run = client.post("/executions", {"definition_id": saved["id"]})
        closed = _wait_closed(client, run["workflow_id"])
        audit = client.get("/audit/verify")
    except ConsoleApiError as exc:
        console.print(f"[red]console API flow failed:[/] {exc.message}")
        return False
    ok = closed["status"] == "COMPLETED" and audit["ok"]
    colour = "green" if ok else "red"
    console.print(
        f"console API: run {closed['workflow_id']} [{colour}]{closed['status']}[/]; "
        f"audit chain {'verified' if audit['ok'] else 'BROKEN'} ({audit['count']} events)  {closed['ui_url']}"
    )
    return ok
