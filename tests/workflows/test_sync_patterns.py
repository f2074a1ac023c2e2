"""Patterns 3.1.1 and 3.3.1 end to end: real Temporal, PostgreSQL, MariaDB, SQLite and S3 over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import boto3
import psycopg
import pytest
from moto.server import ThreadedMotoServer
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.metadata import AuditWriter, make_engine
from activities.settings import BufferConfig
from infra.demo.load import create_and_load
from infra.demo.vansales import TABLES
from tests.workflows.harness import Tenant, record_history, running
from workflows.sync_types import SyncResult

NAMES = [t.table for t in TABLES]
SCALE = 0.02


def all_tables() -> list[dict]:
    return [{"source_table": n} for n in NAMES]


def assert_verified(result: SyncResult, expected_tables: int) -> None:
    assert len(result.tables) == expected_tables
    for t in result.tables:
        assert t.source is not None and t.destination is not None
        assert t.source.rows > 0, t.source_table
        assert t.source == t.destination, t.source_table


@pytest.mark.parametrize("source_kind", ["sqlite", "mariadb", "postgresql"])
async def test_local_to_local_copies_every_table(
    env: WorkflowEnvironment,
    tmp_path: Path,
    pg_database: Callable[[str], str],
    mariadb_database: Callable[[str], str],
    source_kind: str,
) -> None:
    src_url = {
        "sqlite": lambda: f"sqlite:///{tmp_path / 'erp.db'}",
        "mariadb": lambda: mariadb_database("erp"),
        "postgresql": lambda: pg_database("erp"),
    }[source_kind]()
    counts = create_and_load(src_url, scale=SCALE)
    dst_url = pg_database("dw")
    tenant = Tenant(client=env.client, home=tmp_path)
    tenant.agent_connections = [
        {"name": "erp", "kind": source_kind, "url": src_url},
        {"name": "dw", "kind": "postgresql", "url": dst_url, "write": True},
    ]
    body = {
        "agent": tenant.agent,
        "source_connection": "erp",
        "destination_connection": "dw",
        "tables": all_tables(),
        "limits": {"batch_rows": 500},
    }
    async with running(tenant):
        handle = await tenant.start("LocalToLocalSync", body)
        result: SyncResult = await handle.result()
        await record_history(handle, "LocalToLocalSync", f"full_{source_kind}")
    assert_verified(result, len(NAMES))
    assert {t.source_table: t.rows_read for t in result.tables} == counts
    assert sum(t.rows_written for t in result.tables) == sum(counts.values())


async def test_local_to_local_incremental_second_run_moves_only_changes(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str]
) -> None:
    src_url, dst_url = pg_database("erp"), pg_database("dw")
    create_and_load(src_url, scale=SCALE)
    tenant = Tenant(client=env.client, home=tmp_path)
    tenant.agent_connections = [
        {"name": "erp", "kind": "postgresql", "url": src_url},
        {"name": "dw", "kind": "postgresql", "url": dst_url, "write": True},
    ]
    body = {
        "agent": tenant.agent,
        "source_connection": "erp",
        "destination_connection": "dw",
        "pipeline": "erp-dw",
        "tables": [{"source_table": "orders", "incremental_column": "updated_at"}],
        "limits": {"batch_rows": 300},
    }
    async with running(tenant):
        first: SyncResult = await (await tenant.start("LocalToLocalSync", body)).result()
        with psycopg.connect(src_url, autocommit=True) as conn:
            changed = conn.execute(
                "UPDATE orders SET status = 'cancelled', updated_at = updated_at + interval '400 days' "
                "WHERE order_id IN (SELECT order_id FROM orders ORDER BY order_id LIMIT 7)"
            ).rowcount
        handle = await tenant.start("LocalToLocalSync", body)
        second: SyncResult = await handle.result()
        await record_history(handle, "LocalToLocalSync", "incremental_second_run")
    assert changed == 7
    assert first.tables[0].rows_written == first.tables[0].source.rows  # type: ignore[union-attr]
    # The second run re-reads from the saved cursor (inclusive) and writes only the 7 changed rows.
    assert second.tables[0].rows_written == 7
    assert second.tables[0].rows_read < first.tables[0].rows_read
    assert second.tables[0].verified


@pytest.fixture(scope="module")
def s3_endpoint() -> str:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.mark.parametrize("backend", ["directory", "s3"])
async def test_local_to_cloud_through_buffer_with_transform(
    env: WorkflowEnvironment,
    tmp_path: Path,
    pg_database: Callable[[str], str],
    mariadb_database: Callable[[str], str],
    s3_endpoint: str,
    backend: str,
) -> None:
    src_url = mariadb_database("erp") if backend == "s3" else pg_database("erp")
    create_and_load(src_url, scale=SCALE)
    cloud_url = pg_database("cloud")
    tenant = Tenant(client=env.client, home=tmp_path)
    if backend == "s3":
        bucket = f"vsc-{tenant.name}"
        s3 = boto3.client(
            "s3",
            endpoint_url=s3_endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        s3.create_bucket(Bucket=bucket)
        tenant.buffer = BufferConfig(
            backend="s3",
            s3_endpoint_url=s3_endpoint,
            s3_bucket=bucket,
            s3_access_key_id="test",
            s3_secret_access_key="test",
            keyring_dir=tmp_path / "keys",
            master_keyfile=tmp_path / "master.key",
        )
    kind = "mysql" if backend == "s3" else "postgresql"
    tenant.agent_connections = [{"name": "erp", "kind": kind, "url": src_url}]
    tenant.cloud_connections = [
        {"name": "cloud", "kind": "postgresql", "url": cloud_url, "location": "cloud", "write": True}
    ]
    transform = {
        "filter": "quantity > 1",
        "derive": [
            {"name": "line_total", "expr": "round(quantity * unit_price, 2)", "type": "decimal(14,2)"}
        ],
        "rename": {"unit_price": "price"},
    }
    body = {
        "agent": tenant.agent,
        "source_connection": "erp",
        "destination_connection": "cloud",
        "tables": [
            {"source_table": "customers"},
            {"source_table": "order_lines", "transform": transform, "incremental_column": "updated_at"},
        ],
        "limits": {"batch_rows": 400},
    }
    async with running(tenant):
        handle = await tenant.start("LocalToCloudSync", body)
        result: SyncResult = await handle.result()
        await record_history(handle, "LocalToCloudSync", f"buffer_{backend}")
    assert_verified(result, 2)
    lines = result.tables[1]
    with psycopg.connect(cloud_url) as conn:
        bad = conn.execute("SELECT count(*) FROM order_lines WHERE quantity <= 1").fetchone()
        totals = conn.execute(
            "SELECT count(*) FROM order_lines WHERE line_total <> round(quantity * price, 2)"
        ).fetchone()
    assert bad == (0,) and totals == (0,)
    assert lines.rows_written == lines.destination.rows  # type: ignore[union-attr]
    assert lines.rows_read > lines.rows_written  # the filter dropped rows
    # Every data access is in the tenant's append-only, hash-chained audit trail.
    audit = AuditWriter(make_engine(f"sqlite:///{tmp_path / 'metadata.db'}"))
    events = audit.query(tenant.name, workflow_id=handle.id, limit=1000)
    assert {e.action for e in events} == {"extract", "load", "verify"}
    assert sum(e.rows for e in events if e.action == "load") == lines.rows_read + result.tables[0].rows_read
    assert audit.verify(tenant.name).ok
    # Every chunk of the run was purged after loading.
    if backend == "directory":
        assert not any(p.is_file() for p in (tmp_path / "buffer").rglob("*"))


async def test_invalid_input_fails_fast_and_names_the_field(env: WorkflowEnvironment, tmp_path: Path) -> None:
    tenant = Tenant(client=env.client, home=tmp_path)
    async with running(tenant, agent=False):
        handle = await tenant.start(
            "LocalToLocalSync", {"agent": "edge-1", "source_connection": "x", "tables": []}
        )
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()
        await record_history(handle, "LocalToLocalSync", "invalid_input")
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "InvalidWorkflowInput" and cause.non_retryable
    assert "destination_connection" in cause.message and "tables" in cause.message


@pytest.mark.parametrize(
    ("connections", "table", "error_type", "needle"),
    [
        ([], "orders", "ConnectionNotFoundError", "erp"),
        (
            [{"name": "erp", "kind": "sqlite", "url": "sqlite:///{home}/erp.db"}],
            "no_such_table",
            "TableNotFoundError",
            "no_such_table",
        ),
        (
            [{"name": "erp", "kind": "postgresql", "url": "postgresql://postgres:pw@127.0.0.1:1/none"}],
            "orders",
            "HostUnreachableError",
            "erp",
        ),
    ],
)
async def test_bad_endpoint_fails_with_a_named_error(
    env: WorkflowEnvironment, tmp_path: Path, connections: list, table: str, error_type: str, needle: str
) -> None:
    create_and_load(f"sqlite:///{tmp_path / 'erp.db'}", scale=0.005)
    tenant = Tenant(client=env.client, home=tmp_path)
    tenant.agent_connections = [{**c, "url": c["url"].format(home=tmp_path)} for c in connections] + [
        {"name": "dw", "kind": "sqlite", "url": f"sqlite:///{tmp_path / 'dw.db'}", "write": True}
    ]
    body = {
        "agent": tenant.agent,
        "source_connection": "erp",
        "destination_connection": "dw",
        "tables": [{"source_table": table}],
        "limits": {"heartbeat_seconds": 5},
    }
    async with running(tenant):
        handle = await tenant.start("LocalToLocalSync", body)
        if error_type == "HostUnreachableError":
            # Transient: Temporal keeps retrying; the pending activity shows the classified failure.
            for _ in range(100):
                desc = await handle.describe()
                pending = desc.raw_description.pending_activities
                if pending and pending[0].last_failure.message:
                    failure = pending[0].last_failure
                    assert failure.application_failure_info.type == error_type
                    assert not failure.application_failure_info.non_retryable
                    assert needle in failure.message and "pw" not in failure.message
                    break
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("no failure recorded for the unreachable host")
            await handle.terminate("test done")
            return
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()
    cause = info.value.cause.cause  # ActivityError -> ApplicationError
    assert isinstance(cause, ApplicationError)
    assert cause.type == error_type and cause.non_retryable
    assert needle in cause.message


ORDER_TOTALS = """
SELECT o.order_id, o.customer_id, o.updated_at, count(*) AS line_count, sum(l.quantity) AS units
FROM orders o JOIN order_lines l ON l.order_id = o.order_id
GROUP BY o.order_id, o.customer_id, o.updated_at
"""


@pytest.mark.parametrize("source_kind", ["postgresql", "mariadb"])
async def test_query_source_syncs_a_join_incrementally(
    env: WorkflowEnvironment,
    tmp_path: Path,
    pg_database: Callable[[str], str],
    mariadb_database: Callable[[str], str],
    source_kind: str,
) -> None:
    src_url = pg_database("erp") if source_kind == "postgresql" else mariadb_database("erp")
    create_and_load(src_url, scale=SCALE)
    dst_url = pg_database("dw")
    tenant = Tenant(client=env.client, home=tmp_path)
    tenant.agent_connections = [
        {"name": "erp", "kind": source_kind, "url": src_url},
        {"name": "dw", "kind": "postgresql", "url": dst_url, "write": True},
    ]
    body = {
        "agent": tenant.agent,
        "source_connection": "erp",
        "destination_connection": "dw",
        "tables": [
            {
                "source_table": "order_totals",
                "query": ORDER_TOTALS,
                "key": ["order_id"],
                "incremental_column": "updated_at",
            }
        ],
        "limits": {"batch_rows": 100},
    }
    async with running(tenant):
        result: SyncResult = await (await tenant.start("LocalToLocalSync", body)).result()
    table = result.tables[0]
    assert table.verified and table.rows_written == table.source.rows > 0  # type: ignore[union-attr]
    with psycopg.connect(dst_url) as conn:
        count, units = conn.execute("SELECT count(*), sum(units) FROM order_totals").fetchone()  # type: ignore[misc]
    with psycopg.connect(dst_url) as conn:
        pk = conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'order_totals'::regclass AND i.indisprimary"
        ).fetchall()
    assert count == table.source.rows and units > count  # type: ignore[union-attr]
    assert pk == [("order_id",)]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("DELETE FROM orders", "DELETE"),
        ("SELECT * FROM orders; DROP TABLE orders", "statement"),
        ("WITH gone AS (DELETE FROM orders RETURNING *) SELECT * FROM gone", "DELETE"),
    ],
)
async def test_query_source_that_could_write_fails_once_and_writes_nothing(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str], query: str, reason: str
) -> None:
    src_url = pg_database("erp")
    create_and_load(src_url, scale=0.005)
    tenant = Tenant(client=env.client, home=tmp_path)
    tenant.agent_connections = [
        {"name": "erp", "kind": "postgresql", "url": src_url, "write": True},
        {"name": "dw", "kind": "postgresql", "url": pg_database("dw"), "write": True},
    ]
    body = {
        "agent": tenant.agent, "source_connection": "erp", "destination_connection": "dw",
        "tables": [{"source_table": "orders_copy", "query": query, "key": ["order_id"]}],
    }  # fmt: skip
    with psycopg.connect(src_url) as conn:
        before = conn.execute("SELECT count(*) FROM orders").fetchone()
    async with running(tenant):
        handle = await tenant.start("LocalToLocalSync", body)
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()
    cause = info.value.cause.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "ReadOnlyViolationError" and cause.non_retryable
    assert reason.lower() in cause.message.lower()
    with psycopg.connect(src_url) as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == before


async def test_wrong_password_and_type_mismatch_fail_once_with_named_errors(
    env: WorkflowEnvironment,
    tmp_path: Path,
    pg_database: Callable[[str], str],
    mariadb_database: Callable[[str], str],
) -> None:
    src = mariadb_database("erp")
    create_and_load(src, scale=0.005)
    dst = pg_database("dw")
    with psycopg.connect(dst, autocommit=True) as conn:
        conn.execute("CREATE TABLE vans (van_id bigint PRIMARY KEY, plate date)")
    tenant = Tenant(client=env.client, home=tmp_path)
    bad_password = src.replace("root@", "root:not-the-password@")
    tenant.agent_connections = [
        {"name": "erp", "kind": "mariadb", "url": src},
        {"name": "erp_badpw", "kind": "mariadb", "url": bad_password},
        {"name": "dw", "kind": "postgresql", "url": dst, "write": True},
    ]
    cases = [
        ("erp_badpw", "routes", "AuthenticationFailedError", "erp_badpw"),
        ("erp", "vans", "SchemaMismatchError", "'vans'"),
    ]
    async with running(tenant):
        for source, table, error_type, needle in cases:
            body = {
                "agent": tenant.agent, "source_connection": source, "destination_connection": "dw",
                "tables": [{"source_table": table}],
            }  # fmt: skip
            handle = await tenant.start("LocalToLocalSync", body)
            with pytest.raises(WorkflowFailureError) as info:
                await handle.result()
            cause = info.value.cause.cause
            assert isinstance(cause, ApplicationError), error_type
            assert cause.type == error_type and cause.non_retryable
            assert needle in cause.message and "not-the-password" not in cause.message
    with psycopg.connect(dst) as conn:
        assert conn.execute("SELECT count(*) FROM vans").fetchone() == (0,)
