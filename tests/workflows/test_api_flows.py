"""Patterns 3.1.2 and 3.3.3 as workflows: routing, batching, idempotency-key indices, audit, purge.

The activities are stubs registered under the real names (STYLE 14), so these tests check the
workflows' own logic and record the replay histories; the end-to-end runs through real SDKs,
the agent and the example API are in test_api_patterns.py.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.workflows.harness import record_history
from workflows import contracts as c
from workflows.api_types import CALL_API, ApiCallCount, ApiFlowResult, CallApiInput, CallApiResult
from workflows.queues import agent_queue, cloud_queue
from workflows.registry import ALL_WORKFLOWS
from workflows.routing import EndpointKind, api_endpoint
from workflows.types import BufferRef, ChunkRef, ColumnSchema, Fingerprint, TableSchema

SHA = "a" * 64


def binding(name: str, accessibility: str) -> dict[str, Any]:
    return {
        "name": name,
        "sdk": {"component_sha256": SHA, "description_sha256": SHA},
        "base_url": "http://127.0.0.1:9",
        "accessibility": accessibility,
        "auth": {"kind": "api_key", "name": "X-API-Key"},
        "credential": f"{name}-key",
        "writable_ops": ["create_orders"],
    }


def fp(rows: int, value: int) -> Fingerprint:
    return Fingerprint(rows=rows, content_hash=f"{value:032x}")


class Stubs:
    """Fake activities keeping what they were asked, on the queue they were asked on."""

    def __init__(self, *, pages: int = 3) -> None:
        self.calls: list[tuple[str, CallApiInput]] = []
        self.audits: list[c.AuditInput] = []
        self.purged: list[str] = []
        self.pages = pages

    def all(self) -> list[Any]:
        @activity.defn(name=CALL_API)
        def call_api(inp: CallApiInput) -> CallApiResult:
            self.calls.append((activity.info().task_queue, inp))
            count = (ApiCallCount(operation=inp.operation, status=200, calls=1, bytes=10),)
            if inp.table is not None:  # 3.1.2: two calls of two batches each, the second ends the table
                last = inp.first_batch >= 2
                progress = c.StepProgress(rows_read=4, batches=2, after=(inp.first_batch + 2,), done=last)
                return CallApiResult(
                    operation=inp.operation,
                    calls=2,
                    records=4,
                    fingerprint=fp(4, 1),
                    progress=progress,
                    counts=count,
                )
            if inp.buffer is not None:
                return CallApiResult(
                    operation=inp.operation, calls=2, records=5, fingerprint=fp(5, 2), audited=True
                )
            now = datetime(2024, 1, 1, tzinfo=UTC)
            schema = TableSchema(table="orders", columns=(ColumnSchema(name="id", type="int64"),))
            chunks = tuple(
                ChunkRef(key=f"k{i}", seq=i, rows=2, size=1, sha256=SHA, write_id="w")
                for i in range(self.pages)
            )
            ref = BufferRef(
                tenant=inp.tenant,
                run_id=inp.run_id,
                table_schema=schema,
                key_id="k",
                created_at=now,
                expires_at=now + timedelta(hours=1),
                chunks=chunks,
            )
            return CallApiResult(
                operation=inp.operation,
                calls=self.pages,
                records=2 * self.pages,
                buffer=ref if chunks else None,
                fingerprint=fp(2 * self.pages, 3),
                counts=count,
            )

        @activity.defn(name=c.FINGERPRINT_TABLE)
        def fingerprint_table(inp: c.FingerprintInput) -> c.FingerprintResult:
            return c.FingerprintResult(fingerprint=fp(8, 2))

        @activity.defn(name=c.RECORD_AUDIT)
        def record_audit(inp: c.AuditInput) -> int:
            self.audits.append(inp)
            return len(self.audits)

        @activity.defn(name=c.PURGE_BUFFER)
        def purge_buffer(inp: c.PurgeBufferInput) -> int:
            self.purged.append(activity.info().task_queue)
            return 1

        return [call_api, fingerprint_table, record_audit, purge_buffer]


async def run_flow(env: WorkflowEnvironment, workflow: str, body: dict, stubs: Stubs, tenant: str) -> Any:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        workers = [
            Worker(
                env.client,
                task_queue=q,
                workflows=ALL_WORKFLOWS if q.endswith(".cloud") else [],
                activities=stubs.all(),
                activity_executor=pool,
            )
            for q in (cloud_queue(tenant), agent_queue(tenant, "edge-1"))
        ]
        async with workers[0], workers[1]:
            handle = await env.client.start_workflow(
                workflow,
                body,
                id=f"{workflow}-{uuid.uuid4().hex[:8]}",
                task_queue=cloud_queue(tenant),
                result_type=ApiFlowResult,
            )
            try:
                return handle, await handle.result()
            except WorkflowFailureError as exc:
                return handle, exc


def db_to_api_body() -> dict[str, Any]:
    return {
        "agent": "edge-1",
        "source_connection": "erp_pg",
        "source_table": "orders",
        "transform": {"select": ["order_no", "customer_id"]},
        "api": binding("vansales", "local"),
        "operation": "create_orders",
        "post": {"records_field": "orders"},
    }


async def test_local_db_to_local_api_runs_on_the_agent_and_counts_batches_across_calls(
    env: WorkflowEnvironment,
) -> None:
    tenant, stubs = f"t{uuid.uuid4().hex[:8]}", Stubs()
    handle, result = await run_flow(env, "LocalDbToLocalApi", db_to_api_body(), stubs, tenant)
    await record_history(handle, "LocalDbToLocalApi", "two_calls")
    assert isinstance(result, ApiFlowResult), result
    queues = {q for q, _ in stubs.calls}
    assert queues == {agent_queue(tenant, "edge-1")}
    # Idempotency keys count from the batches the earlier calls sent, and resume after their position.
    assert [i.first_batch for _, i in stubs.calls] == [0, 2]
    assert stubs.calls[1][1].table is not None and stubs.calls[1][1].table.after == (2,)
    assert {i.step for _, i in stubs.calls} == {"load"}
    read, send = result.steps
    assert (read.records, send.records, send.calls) == (8, 8, 4)
    assert send.fingerprint == fp(8, 2) == read.fingerprint  # partial fingerprints add up
    # The agent cannot write the audit trail: the workflow writes its counts, one event per outcome.
    assert [(a.action, a.rows) for a in stubs.audits] == [("api_call", 1), ("api_call", 1)]


async def test_local_db_to_api_refuses_an_internet_only_api(env: WorkflowEnvironment) -> None:
    body = {**db_to_api_body(), "api": binding("central", "internet")}
    handle, failure = await run_flow(env, "LocalDbToLocalApi", body, Stubs(), f"t{uuid.uuid4().hex[:8]}")
    await record_history(handle, "LocalDbToLocalApi", "not_a_local_api")
    assert isinstance(failure, WorkflowFailureError)
    assert failure.cause.type == "InvalidWorkflowInput"  # type: ignore[union-attr]
    assert "writes a local API; 'central' is an internet API" in str(failure.cause)


def api_to_api_body() -> dict[str, Any]:
    return {
        "agent": "edge-1",
        "source": binding("vansales", "local"),
        "list_operation": "list_orders",
        "pagination": {
            "kind": "cursor",
            "param": "cursor",
            "size_param": "limit",
            "items_path": "items",
            "cursor_path": "next_cursor",
        },
        "records_table": "orders",
        "transform": {"filter": "status <> 'cancelled'"},
        "destination": binding("central", "internet"),
        "operation": "create_orders",
        "post": {"records_field": "orders"},
    }


async def test_local_api_to_internet_api_extracts_on_agent_loads_and_purges_on_cloud(
    env: WorkflowEnvironment,
) -> None:
    tenant, stubs = f"t{uuid.uuid4().hex[:8]}", Stubs()
    handle, result = await run_flow(env, "LocalApiToInternetApi", api_to_api_body(), stubs, tenant)
    await record_history(handle, "LocalApiToInternetApi", "through_buffer")
    assert isinstance(result, ApiFlowResult), result
    (q1, extract), (q2, load) = stubs.calls
    assert q1 == agent_queue(tenant, "edge-1") and q2 == cloud_queue(tenant)
    assert extract.inline_max_bytes == 0 and extract.pagination is not None  # always the buffer
    assert load.buffer is not None and load.transform is not None and load.step == "load"
    assert stubs.purged == [cloud_queue(tenant)]
    assert [s.records for s in result.steps] == [6, 5]
    # Only the agent's extract is audited by the workflow; the cloud load audited itself.
    assert [a.target for a in stubs.audits] == ["api:vansales.list_orders -> 200"]


async def test_local_api_to_internet_api_with_nothing_listed_sends_nothing(env: WorkflowEnvironment) -> None:
    stubs = Stubs(pages=0)
    handle, result = await run_flow(
        env, "LocalApiToInternetApi", api_to_api_body(), stubs, f"t{uuid.uuid4().hex[:8]}"
    )
    await record_history(handle, "LocalApiToInternetApi", "nothing_listed")
    assert isinstance(result, ApiFlowResult) and len(result.steps) == 1
    assert len(stubs.calls) == 1 and stubs.purged == []


@pytest.mark.parametrize(
    ("accessibility", "other", "expected"),
    [
        ("local", EndpointKind.INTERNET_API, EndpointKind.LOCAL_API),
        ("internet", EndpointKind.LOCAL_DB, EndpointKind.INTERNET_API),
        ("both", EndpointKind.LOCAL_DB, EndpointKind.LOCAL_API),
        ("both", EndpointKind.CLOUD_DB, EndpointKind.INTERNET_API),
    ],
)
def test_api_endpoint_follows_accessibility(
    accessibility: str, other: EndpointKind, expected: EndpointKind
) -> None:
    assert api_endpoint(accessibility, other=other) is expected


def test_api_endpoint_refuses_unknown_accessibility() -> None:
    with pytest.raises(ValueError, match="unknown API accessibility"):
        api_endpoint("sometimes", other=EndpointKind.LOCAL_DB)
