"""The demo's last act: the same platform driven through the console REST API, as a tenant user would.

Registers the demo's connections (names of the credentials the agent's vault holds, and the
cloud warehouse), saves a workflow definition, runs it through ``POST /executions``, then
(Pattern 3.4.4) has a signed webhook delivery start it again and shows a replayed delivery start
nothing, and checks the audit chain, with the admin key ``vsc up`` saved for the CLI.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
from rich.console import Console

from console_api.api.hook_signature import sign
from console_api.client import ConsoleApiError, ConsoleClient
from console_api.demo_agent import DEMO_AGENT
from console_api.runs import SummaryLine

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


def _deliver(api_url: str, hook: dict[str, Any], *, delivery: str) -> httpx.Response:
    """POST one signed event to the hook's public URL, as the upstream system would (no API key)."""
    body = json.dumps({"event": "erp.orders.closed", "day": "2030-01-01"}).encode()
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-VSC-Timestamp": stamp,
        "X-VSC-Delivery": delivery,
        "X-VSC-Signature": sign(key=hook["secret"], timestamp=stamp, delivery_id=delivery, body=body),
    }
    return httpx.post(f"{api_url}{hook['url']}", content=body, headers=headers, timeout=30, trust_env=False)


def run_webhook_flow(client: ConsoleClient, *, api_url: str, definition_id: str) -> SummaryLine:
    """3.4.4: a webhook on the definition; a signed delivery runs it, the same delivery again does not."""
    hook = client.post(
        "/webhooks", {"name": f"erp-closed-{uuid.uuid4().hex[:8]}", "definition_id": definition_id}
    )
    delivery = f"demo-{uuid.uuid4().hex[:12]}"
    first = _deliver(api_url, hook, delivery=delivery)
    if first.status_code != 202:
        return SummaryLine(
            pattern="3.4.4", counts=f"delivery answered {first.status_code}", verified=False, link=""
        )
    closed = _wait_closed(client, first.json()["workflow_id"])
    again = _deliver(api_url, hook, delivery=delivery)
    duplicate = again.status_code == 200 and again.json().get("duplicate") is True
    ok = closed["status"] == "COMPLETED" and duplicate
    counts = (
        f"signed delivery started a run ({closed['status']}); the same delivery again: "
        f"{'duplicate, nothing started' if duplicate else f'answered {again.status_code}'}"
    )
    return SummaryLine(pattern="3.4.4", counts=counts, verified=ok, link=closed["ui_url"])


def run_console_flow(
    client: ConsoleClient, *, console: Console, api_url: str, summary: list[SummaryLine]
) -> bool:
    """Connections, a definition, a run and a webhook-started run through the API; True if all verified."""
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
        hooked = run_webhook_flow(client, api_url=api_url, definition_id=saved["id"])
        audit = client.get("/audit/verify")
    except (ConsoleApiError, httpx.HTTPError) as exc:
        console.print(f"[red]console API flow failed:[/] {getattr(exc, 'message', None) or exc}")
        return False
    summary.append(hooked)
    console.print(f"3.4.4: {hooked.counts}  {hooked.link}")
    ok = closed["status"] == "COMPLETED" and audit["ok"] and hooked.verified
    colour = "green" if ok else "red"
    console.print(
        f"console API: run {closed['workflow_id']} [{colour}]{closed['status']}[/]; "
        f"audit chain {'verified' if audit['ok'] else 'BROKEN'} ({audit['count']} events)  {closed['ui_url']}"
    )
    return ok
