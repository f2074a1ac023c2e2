"""Pattern 3.4.4 end to end: a signed webhook delivery starts a real sync, and a replayed one is harmless.

The console, the tenant's cloud and agent workers and two PostgreSQL databases are real; the
delivery goes through the public ``/hooks`` endpoint. Counts and content hashes are compared on
both ends after each run.
"""

from __future__ import annotations

import json

import psycopg
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from tests.console_api.api.pgworld import PgWorld, definition_body
from tests.workflows.harness import running
from workflows.sync_types import SyncResult

from .test_hooks import deliver, signed

HASH = "SELECT count(*), md5(coalesce(string_agg(id::text || ':' || v, ',' ORDER BY id), '')) FROM items"


def table_state(url: str) -> tuple[int, str]:
    with psycopg.connect(url) as conn:
        count, digest = conn.execute(HASH).fetchone()  # type: ignore[misc]
    return int(count), str(digest)


async def test_a_webhook_starts_a_sync_and_a_replayed_delivery_changes_nothing(
    pg_world: PgWorld, env: WorkflowEnvironment
) -> None:
    api, tenant = pg_world
    src = next(c["url"] for c in tenant.agent_connections if c["name"] == "erp")
    dst = next(c["url"] for c in tenant.agent_connections if c["name"] == "dw")
    saved = await api.call(
        "POST", "/workflow-definitions", api.operator, json=definition_body(max_rows=50_000)
    )
    assert saved.status_code == 201, saved.text
    made = await api.call(
        "POST", "/webhooks", json={"name": "erp-changed", "definition_id": saved.json()["id"]}
    )
    assert made.status_code == 201, made.text
    hook = made.json()
    body = json.dumps({"table": "items", "reason": "nightly close"}).encode()
    async with running(tenant):
        first = await deliver(api, hook["url"], body, signed(hook["secret"], body, delivery="close-1"))
        assert first.status_code == 202, first.text
        handle = env.client.get_workflow_handle(first.json()["workflow_id"], result_type=SyncResult)
        result = await handle.result()
        [items] = result.tables
        assert (items.rows_read, items.rows_written, items.verified) == (20_000, 20_000, True)
        assert table_state(dst) == table_state(src) and table_state(dst)[0] == 20_000

        # The sender retries the same delivery (its timeout fired): accepted once, nothing runs again.
        again = await deliver(api, hook["url"], body, signed(hook["secret"], body, delivery="close-1"))
        assert again.status_code == 200 and again.json()["duplicate"] is True, again.text
        described = await handle.describe()
        assert described.status == WorkflowExecutionStatus.COMPLETED
        assert described.run_id == first.json()["run_id"]

        # New rows upstream and a new delivery: a new run brings the destination level again.
        with psycopg.connect(src, autocommit=True) as conn:
            conn.execute("INSERT INTO items SELECT g, 'late ' || g FROM generate_series(20001, 20050) g")
        later = await deliver(api, hook["url"], body, signed(hook["secret"], body, delivery="close-2"))
        assert later.status_code == 202 and later.json()["run_id"] != first.json()["run_id"], later.text
        second = env.client.get_workflow_handle(later.json()["workflow_id"], run_id=later.json()["run_id"])
        await second.result()
    assert table_state(dst) == table_state(src) and table_state(dst)[0] == 20_050
    executions = (await api.call("GET", "/executions", params={"limit": 100})).json()["data"]
    assert sorted(e["run_id"] for e in executions) == sorted([first.json()["run_id"], later.json()["run_id"]])
