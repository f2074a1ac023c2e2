"""Pattern 3.3.2 end to end: cloud PostgreSQL / MariaDB -> transform -> buffer -> agent -> local PG."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from temporalio.testing import WorkflowEnvironment

from activities.metadata import AuditWriter, make_engine
from infra.demo.load import create_and_load
from mini_connector.worker import build_worker, connect
from tests.console_api.gateway.conftest import NOWHERE, GatewayRig
from tests.console_api.gateway.test_buffer_through_gateway import brig, cloud_buffer, files_under
from tests.workflows.harness import Tenant, record_history, running
from tests.workflows.test_sync_patterns import NAMES, SCALE, assert_verified
from workflows.sync_types import SyncResult

__all__ = ["brig"]  # the gateway rig fixture, shared with the 3.3.1 gateway test

TRANSFORM = {
    "filter": "quantity > 1",
    "derive": [{"name": "line_total", "expr": "round(quantity * unit_price, 2)", "type": "decimal(14,2)"}],
    "rename": {"unit_price": "price"},
}
LINES = {"source_table": "order_lines", "incremental_column": "updated_at", "transform": TRANSFORM}


def cloud_to_local_body(tenant: Tenant) -> dict:
    """Every demo table, order_lines incremental and transformed."""
    tables: list[dict] = [{"source_table": n} for n in NAMES if n != "order_lines"]
    tables.append(LINES)
    return {
        "agent": tenant.agent,
        "source_connection": "cloud_erp",
        "destination_connection": "local_dw",
        "tables": tables,
        "limits": {"batch_rows": 500},
    }


def source_count(url: str, where: str) -> int:
    driver = url.replace("mysql://", "mysql+pymysql://").replace("postgresql://", "postgresql+psycopg://")
    engine = sa.create_engine(driver)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(f"SELECT count(*) FROM order_lines WHERE {where}")).scalar_one())
    finally:
        engine.dispose()


def assert_loaded(result: SyncResult, counts: dict[str, int], *, kept_lines: int, local_url: str) -> None:
    """Exact counts and equal fingerprints per table; the transform's effect is visible on premises."""
    assert_verified(result, len(NAMES))
    by_table = {t.source_table: t for t in result.tables}
    assert {name: t.rows_read for name, t in by_table.items()} == counts
    for name, t in by_table.items():
        expected = kept_lines if name == "order_lines" else counts[name]
        assert t.destination is not None and t.destination.rows == expected, name
        assert t.rows_written == expected, name
    with psycopg.connect(local_url) as conn:
        dropped = conn.execute("SELECT count(*) FROM order_lines WHERE quantity <= 1").fetchone()
        wrong = conn.execute(
            "SELECT count(*) FROM order_lines WHERE line_total <> round(quantity * price, 2)"
        ).fetchone()
    assert dropped == (0,) and wrong == (0,)


@pytest.mark.parametrize("source_kind", ["postgresql", "mariadb"])
async def test_cloud_to_local_through_buffer_with_cloud_transform(
    env: WorkflowEnvironment,
    tmp_path: Path,
    pg_database: Callable[[str], str],
    mariadb_database: Callable[[str], str],
    source_kind: str,
) -> None:
    cloud_url = pg_database("cloud") if source_kind == "postgresql" else mariadb_database("cloud")
    counts = create_and_load(cloud_url, scale=SCALE)
    kept_lines = source_count(cloud_url, "quantity > 1")
    local_url = pg_database("local")
    tenant = Tenant(client=env.client, home=tmp_path)
    tenant.cloud_connections = [
        {"name": "cloud_erp", "kind": source_kind, "url": cloud_url, "location": "cloud"}
    ]
    tenant.agent_connections = [{"name": "local_dw", "kind": "postgresql", "url": local_url, "write": True}]
    async with running(tenant):
        handle = await tenant.start("CloudToLocalSync", cloud_to_local_body(tenant))
        result: SyncResult = await handle.result()
        await record_history(handle, "CloudToLocalSync", f"buffer_{source_kind}")
    assert result.pattern == "3.3.2"
    assert 0 < kept_lines < counts["order_lines"]
    assert_loaded(result, counts, kept_lines=kept_lines, local_url=local_url)
    audit = AuditWriter(make_engine(f"sqlite:///{tmp_path / 'metadata.db'}"))
    events = audit.query(tenant.name, workflow_id=handle.id, limit=1000)
    assert {e.action for e in events} == {"extract", "load", "verify"}
    # The cloud filtered before the buffer: the agent loaded only the rows the destination keeps.
    assert sum(e.rows for e in events if e.action == "extract") == sum(counts.values())
    assert sum(e.rows for e in events if e.action == "load") == sum(counts.values()) - (
        counts["order_lines"] - kept_lines
    )
    assert audit.verify(tenant.name).ok
    assert not any(p.is_file() for p in (tmp_path / "buffer").rglob("*"))


async def test_cloud_to_local_second_incremental_run_moves_only_changes(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str]
) -> None:
    cloud_url, local_url = pg_database("cloud"), pg_database("local")
    create_and_load(cloud_url, scale=SCALE)
    tenant = Tenant(client=env.client, home=tmp_path)
    tenant.cloud_connections = [
        {"name": "cloud_erp", "kind": "postgresql", "url": cloud_url, "location": "cloud"}
    ]
    tenant.agent_connections = [{"name": "local_dw", "kind": "postgresql", "url": local_url, "write": True}]
    body = {
        **cloud_to_local_body(tenant),
        "pipeline": "cloud-local",
        "tables": [LINES],
    }
    async with running(tenant):
        first: SyncResult = await (await tenant.start("CloudToLocalSync", body)).result()
        with psycopg.connect(cloud_url, autocommit=True) as conn:
            changed = conn.execute(
                "UPDATE order_lines SET quantity = quantity + 10, "
                "updated_at = updated_at + interval '400 days' "
                "WHERE (order_id, line_no) IN "
                "(SELECT order_id, line_no FROM order_lines ORDER BY order_id, line_no LIMIT 5)"
            ).rowcount
        handle = await tenant.start("CloudToLocalSync", body)
        second: SyncResult = await handle.result()
        await record_history(handle, "CloudToLocalSync", "incremental_second_run")
    assert changed == 5
    assert first.tables[0].verified and second.tables[0].verified
    assert second.tables[0].rows_written == 5
    assert second.tables[0].rows_read < first.tables[0].rows_read


async def test_cloud_to_local_with_agent_buffer_only_through_gateway(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str], brig: GatewayRig
) -> None:
    cloud_url, local_url = pg_database("cloud"), pg_database("local")
    counts = create_and_load(cloud_url, scale=SCALE)
    kept_lines = source_count(cloud_url, "quantity > 1")
    tenant = Tenant(client=env.client, home=tmp_path, buffer=cloud_buffer(tmp_path / "cloud"))
    # The cloud worker and the gateway serve one store; the agent is given an empty one of its own.
    assert brig.gateway.settings.buffer == tenant.buffer_config()
    tenant.cloud_connections = [
        {"name": "cloud_erp", "kind": "postgresql", "url": cloud_url, "location": "cloud"}
    ]
    tenant.agent_connections = [{"name": "local_dw", "kind": "postgresql", "url": local_url, "write": True}]
    agent_side = tmp_path / "agent"
    settings = tenant.agent_settings().model_copy(
        update={"temporal": NOWHERE, "gateway_url": brig.gateway.url, "buffer": cloud_buffer(agent_side)}
    )
    signer = brig.enroll(tenant.name, tenant.agent)
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with running(tenant, agent=False), connect(settings, signer=signer) as client:
            async with build_worker(client, settings, executor):
                result: SyncResult = await (
                    await tenant.start("CloudToLocalSync", cloud_to_local_body(tenant))
                ).result()
    assert_loaded(result, counts, kept_lines=kept_lines, local_url=local_url)
    # The agent decrypted with keys fetched from the gateway and kept nothing: no chunk, key or master key.
    assert files_under(agent_side) == []
    assert files_under(tmp_path / "cloud" / "keys" / tenant.name / "keys")
    assert files_under(tmp_path / "cloud" / "buffer") == []  # purged by the cloud worker
    actions = brig.actions(tenant.name)
    assert "gateway.session_opened" in actions
    assert "gateway.buffer_denied" not in actions and "gateway.rpc_denied" not in actions
