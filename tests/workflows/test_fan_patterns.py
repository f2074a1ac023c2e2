"""Patterns 3.4.1 (fan-out) and 3.4.2 (fan-in) end to end: real Temporal and PostgreSQL, agent and cloud."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from tests.workflows.harness import Tenant, record_history, running
from workflows.fan_types import FanInResult, FanOutResult
from workflows.queues import agent_queue, cloud_queue
from workflows.routing import EndpointKind, LocalOnlyFanError, plan_fan

BASE = datetime(2026, 1, 1, tzinfo=UTC)
ITEMS = 250
"""Source rows of the fan-out; with ``batch_rows`` 100 the extract seals 3 chunks."""


def items(n: int) -> list[tuple[Any, ...]]:
    return [(i, f"item {i}", i % 7, Decimal(i) / 4, BASE + timedelta(minutes=i)) for i in range(1, n + 1)]


def create(url: str, table: str, rows: list[tuple[Any, ...]]) -> None:
    """A small table with text, integer, decimal and timestamptz columns."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {table} (id int PRIMARY KEY, name text NOT NULL, qty int, "
            "price numeric(10,2), updated_at timestamptz)"
        )
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s)", rows)


def rows_of(url: str, table: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT id, name, qty, price, updated_at FROM {table} ORDER BY id").fetchall()


def digest(rows: list[tuple[Any, ...]]) -> str:
    """The test's own content hash of rows in key order, independent of the platform's fingerprint."""

    def canonical(v: Any) -> Any:
        if isinstance(v, datetime):
            return v.astimezone(UTC).isoformat()
        return format(v.normalize(), "f") if isinstance(v, Decimal) else v

    text = repr(sorted(tuple(canonical(v) for v in r) for r in rows))
    return hashlib.sha256(text.encode()).hexdigest()


def closed_port() -> int:
    """A loopback port nothing listens on (for now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def forwarder(port: int, *, to: int = 5432) -> AsyncIterator[None]:
    """Make PostgreSQL reachable on ``port``: the destination "comes back"."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", to)
        await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w), return_exceptions=True)

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()


async def start(tenant: Tenant, workflow: str, body: dict[str, Any], result_type: type) -> WorkflowHandle:
    return await tenant.client.start_workflow(
        workflow,
        body,
        id=f"{workflow}-{uuid.uuid4().hex[:10]}",
        task_queue=cloud_queue(tenant.name),
        result_type=result_type,
    )


def fan_out_setup(
    tenant: Tenant, pg_database: Callable[[str], str], *, down_port: int | None = None
) -> dict[str, str]:
    """Source on the agent; destinations: two cloud databases and one more on the agent."""
    urls = {name: pg_database(name) for name in ("erp", "cloud_a", "cloud_b", "local_c")}
    create(urls["erp"], "items", items(ITEMS))
    cloud_b = urls["cloud_b"] if down_port is None else urls["cloud_b"].replace(":5432/", f":{down_port}/")
    tenant.agent_connections = [
        {"name": "erp", "kind": "postgresql", "url": urls["erp"]},
        {"name": "local_c", "kind": "postgresql", "url": urls["local_c"], "write": True},
    ]
    tenant.cloud_connections = [
        {"name": "cloud_a", "kind": "postgresql", "url": urls["cloud_a"], "location": "cloud", "write": True},
        {"name": "cloud_b", "kind": "postgresql", "url": cloud_b, "location": "cloud", "write": True},
    ]
    return urls


def fan_out_body(tenant: Tenant) -> dict[str, Any]:
    return {
        "agent": tenant.agent,
        "source": {"connection": "erp", "kind": "local_db"},
        "table": {"source_table": "items"},
        "destinations": [
            {"connection": "cloud_a", "kind": "cloud_db"},
            {"connection": "cloud_b", "kind": "cloud_db"},
            {"connection": "local_c", "kind": "local_db"},
        ],
        "limits": {"batch_rows": 100},
        "retry": {"initial_seconds": 0.2, "maximum_seconds": 1.0, "deadline_seconds": 120},
    }


def assert_fanned_out(result: FanOutResult, urls: dict[str, str], tmp_path: Path) -> None:
    """Exact counts and equal hashes on every end: the platform's fingerprints and the test's own digest."""
    assert (result.pattern, result.rows_extracted, result.chunks) == ("3.4.1", ITEMS, 3)
    assert result.source is not None and result.source.rows == ITEMS
    assert result.complete
    source_rows = rows_of(urls["erp"], "items")
    assert len(source_rows) == ITEMS
    for dest in result.destinations:
        assert (dest.state, dest.rows_read, dest.rows_written, dest.error) == ("done", ITEMS, ITEMS, None)
        assert dest.fingerprint == result.source, dest.connection
        assert digest(rows_of(urls[dest.connection], "items")) == digest(source_rows), dest.connection
    assert not any(p.is_file() for p in (tmp_path / "buffer").rglob("*"))  # purged once all were done


def test_fan_routes_each_endpoint_to_its_side_and_refuses_local_only() -> None:
    plan = plan_fan(
        tenant="acme",
        sources=(EndpointKind.LOCAL_DB,),
        destinations=(EndpointKind.CLOUD_DB, EndpointKind.LOCAL_DB),
        agent="edge-1",
    )
    agent, cloud = agent_queue("acme", "edge-1"), cloud_queue("acme")
    assert [s.queue for s in plan.extracts] == [agent]
    assert [s.queue for s in plan.loads] == [cloud, agent]
    assert plan.cloud == cloud
    with pytest.raises(LocalOnlyFanError):
        plan_fan(
            tenant="acme", sources=(EndpointKind.LOCAL_DB,), destinations=(EndpointKind.LOCAL_DB,), agent="e"
        )


async def test_fan_out_one_extract_loads_three_destinations(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str]
) -> None:
    tenant = Tenant(client=env.client, home=tmp_path)
    urls = fan_out_setup(tenant, pg_database)
    async with running(tenant):
        handle = await start(tenant, "FanOutSync", fan_out_body(tenant), FanOutResult)
        result: FanOutResult = await handle.result()
        await record_history(handle, "FanOutSync", "three_destinations")
    assert_fanned_out(result, urls, tmp_path)
    assert [d.attempts for d in result.destinations] == [1, 1, 1]


async def test_fan_out_destination_down_is_retried_alone_until_it_returns(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str]
) -> None:
    port = closed_port()
    tenant = Tenant(client=env.client, home=tmp_path)
    urls = fan_out_setup(tenant, pg_database, down_port=port)
    async with running(tenant):
        handle = await start(tenant, "FanOutSync", fan_out_body(tenant), FanOutResult)
        # The others finish while cloud_b refuses connections and is retried with backoff.
        async with asyncio.timeout(60):
            while True:
                mid: FanOutResult = await handle.query("progress", result_type=FanOutResult)
                a, b, c = mid.destinations or (None, None, None)
                if (
                    a
                    and b
                    and c
                    and a.state == c.state == "done"
                    and b.state == "retrying"
                    and b.attempts >= 2
                ):
                    break
                await asyncio.sleep(0.1)
        assert b is not None and b.error is not None and "HostUnreachableError" in b.error
        assert rows_of(urls["cloud_a"], "items") and rows_of(urls["local_c"], "items")
        async with forwarder(port):
            result: FanOutResult = await handle.result()
        await record_history(handle, "FanOutSync", "one_destination_down")
    assert_fanned_out(result, urls, tmp_path)
    attempts = {d.connection: d.attempts for d in result.destinations}
    assert attempts["cloud_a"] == attempts["local_c"] == 1  # never undone or repeated
    assert attempts["cloud_b"] >= 3


def customers(prefix: str, ids: range, stamp: Callable[[int], datetime | None]) -> list[tuple[Any, ...]]:
    return [(i, f"{prefix}{i}", i % 5, Decimal(i), stamp(i)) for i in ids]


async def test_fan_in_merges_three_sources_by_key_and_version(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str]
) -> None:
    urls = {name: pg_database(name) for name in ("shop", "crm_a", "crm_b", "dw")}
    sources = {
        # Priority order: shop (agent), crm_a, crm_b (cloud).
        "shop": customers("shop", range(1, 61), lambda i: BASE + timedelta(minutes=i)),
        # 41-50 newer than shop's, 51-60 older; 61-100 only here and in crm_b.
        "crm_a": customers(
            "a", range(41, 101), lambda i: BASE + timedelta(days=1 if i <= 50 else -1, minutes=i)
        ),
        # 55-57 tie with shop (shop wins), 58-59 NULL (lose), 91-100 tie with crm_a (crm_a wins), 101-120 new.
        "crm_b": customers(
            "b",
            range(55, 121),
            lambda i: (
                None
                if i in (58, 59)
                else BASE + timedelta(minutes=i)
                if i < 91
                else BASE + timedelta(days=-1, minutes=i)
            ),
        ),
    }
    sources["crm_b"] = [r for r in sources["crm_b"] if r[0] <= 59 or r[0] >= 91]
    for name, rows in sources.items():
        create(urls[name], "customers", rows)
    # The rule, independently: greatest updated_at wins, NULL loses, ties go to the earlier source.
    best: dict[int, tuple[tuple[Any, ...], tuple[Any, ...]]] = {}
    for priority, rows in enumerate(sources.values()):
        for row in rows:
            rank = (row[4] is not None, row[4] or BASE, -priority)
            if row[0] not in best or rank > best[row[0]][0]:
                best[row[0]] = (rank, row)
    expected = sorted(row for _, row in best.values())
    total = sum(len(rows) for rows in sources.values())
    tenant = Tenant(client=env.client, home=tmp_path)
    tenant.agent_connections = [
        {"name": "shop", "kind": "postgresql", "url": urls["shop"]},
        {"name": "dw", "kind": "postgresql", "url": urls["dw"], "write": True},
    ]
    tenant.cloud_connections = [
        {"name": n, "kind": "postgresql", "url": urls[n], "location": "cloud"} for n in ("crm_a", "crm_b")
    ]
    body = {
        "agent": tenant.agent,
        "sources": [
            {"endpoint": {"connection": "shop", "kind": "local_db"}, "table": "customers"},
            {"endpoint": {"connection": "crm_a", "kind": "cloud_db"}, "table": "customers"},
            {"endpoint": {"connection": "crm_b", "kind": "cloud_db"}, "table": "customers"},
        ],
        "key": ["id"],
        "version_column": "updated_at",
        "destination": {"connection": "dw", "kind": "local_db"},
        "destination_table": "customers",
        "limits": {"batch_rows": 25},
    }
    async with running(tenant):
        handle = await start(tenant, "FanInSync", body, FanInResult)
        result: FanInResult = await handle.result()
        await record_history(handle, "FanInSync", "three_sources")
    loaded = rows_of(urls["dw"], "customers")
    assert len(expected) == 120 and total == 60 + 60 + 35
    assert (len(loaded), digest(loaded)) == (len(expected), digest(expected))
    assert loaded == expected
    assert result.pattern == "3.4.2"
    kept = {s.connection: (s.rows_read, s.rows_kept) for s in result.sources}
    winners = {
        name: sum(1 for _, row in best.values() if row[1].startswith(prefix))
        for name, prefix in (("shop", "shop"), ("crm_a", "a"), ("crm_b", "b"))
    }
    assert kept == {name: (len(sources[name]), winners[name]) for name in sources}
    assert result.duplicates_dropped == total - 120
    assert (result.rows_loaded, result.rows_written) == (120, 120)
    assert result.merged.rows == 120 and result.verified
    assert not any(p.is_file() for p in (tmp_path / "buffer").rglob("*"))


async def test_fan_out_destination_still_down_at_its_deadline_is_reported_failed(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str]
) -> None:
    tenant = Tenant(client=env.client, home=tmp_path)
    urls = fan_out_setup(tenant, pg_database, down_port=closed_port())
    body = fan_out_body(tenant)
    body["retry"] = {"initial_seconds": 0.2, "maximum_seconds": 0.4, "deadline_seconds": 1.5}
    async with running(tenant):
        handle = await start(tenant, "FanOutSync", body, FanOutResult)
        result: FanOutResult = await handle.result()
        await record_history(handle, "FanOutSync", "destination_failed_at_deadline")
    by_name = {d.connection: d for d in result.destinations}
    failed = by_name.pop("cloud_b")
    assert not result.complete
    assert failed.state == "failed" and failed.attempts >= 2 and failed.fingerprint is None
    assert failed.error is not None and "HostUnreachableError" in failed.error
    source_rows = rows_of(urls["erp"], "items")
    for name, dest in by_name.items():
        assert (dest.state, dest.attempts, dest.rows_written) == ("done", 1, ITEMS)
        assert dest.fingerprint == result.source
        assert digest(rows_of(urls[name], "items")) == digest(source_rows)
    assert not any(p.is_file() for p in (tmp_path / "buffer").rglob("*"))  # settled: purged
