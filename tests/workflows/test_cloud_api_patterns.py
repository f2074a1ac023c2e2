"""Patterns 3.2.1 (SaaS -> SaaS) and 3.2.2 (cloud DB -> internet API) end to end, cloud only.

The SaaS systems are instances of the example van-sales API on loopback ports, registered as
internet APIs and called through exactly the Mode 2 path a real SaaS takes (generated SDK in the
sandbox, egress policy, credentials from the tenant's secret store). No agent runs: the flows
must not need one. Counts and content hashes are checked on both ends.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from examples.vansales_api.store import orders
from tests.workflows.api_env import (
    CURSOR_PAGES,
    SdkBuild,
    api_instance,
    binding,
    digest,
    seed_orders,
    store_cloud_secret,
)
from tests.workflows.harness import Tenant, record_history, running
from workflows.api_types import ApiFlowResult
from workflows.queues import cloud_queue

pytestmark = pytest.mark.timeout(240)
LISTED = 600
ROWS = 700
CRM_KEY = "crm-saas-key-0003"
HQ_KEY = "central-internet-key-0002"


async def start(tenant: Tenant, workflow: str, body: dict[str, Any]) -> WorkflowHandle[Any, ApiFlowResult]:
    return await tenant.client.start_workflow(
        workflow,
        body,
        id=f"{workflow}-{uuid.uuid4().hex[:10]}",
        task_queue=cloud_queue(tenant.name),
        result_type=ApiFlowResult,
    )


async def test_3_2_1_saas_to_saas_through_the_cloud(
    env: WorkflowEnvironment, tmp_path: Path, sdk: SdkBuild
) -> None:
    with (
        api_instance(tmp_path, "crm", key=CRM_KEY) as crm,
        api_instance(tmp_path, "central", key=HQ_KEY) as central,
    ):
        seed_orders(crm, LISTED)
        tenant = Tenant(client=env.client, home=tmp_path, api_private_origins=[crm.url, central.url])
        pin = sdk.pin(tenant)
        async with running(tenant, agent=False):
            crm_ref, hq_ref = store_cloud_secret(tenant, CRM_KEY), store_cloud_secret(tenant, HQ_KEY)
            body = {
                "source": binding("crm", url=crm.url, pin=pin, accessibility="internet", credential=crm_ref),
                "list_operation": "list_orders",
                "pagination": CURSOR_PAGES,
                "records_table": "orders",
                "transform": {
                    "filter": "status <> 'cancelled'",
                    "derive": [{"name": "order_no", "expr": "concat('CRM-', order_no)"}],
                    "select": ["order_no", "customer_id", "order_date", "status", "total_amount", "note"],
                },
                "destination": binding(
                    "central", url=central.url, pin=pin, accessibility="internet", credential=hq_ref
                ),
                "operation": "create_orders",
                "post": {"records_field": "orders"},
                "batch_rows": 150,
            }
            handle = await start(tenant, "InternetApiToInternetApi", body)
            result = await handle.result()
            await record_history(handle, "InternetApiToInternetApi", "crm_to_central")
        kept = LISTED - LISTED // 5
        extract, load = result.steps
        assert (extract.location, extract.records, extract.calls) == ("cloud", LISTED, LISTED // 100)
        assert (load.location, load.records) == ("cloud", kept)
        rows = crm.order_rows(orders.c.status != "cancelled")
        expected = digest((f"CRM-{no}", *rest) for no, *rest in rows)
        assert central.orders_digest() == (kept, expected)
        assert central.keys_stored() == len(set(central.faults.keys)) == central.faults.posts
        assert crm.faults.posts == 0  # the source is only read


async def test_3_2_2_cloud_table_posted_to_internet_api(
    env: WorkflowEnvironment, tmp_path: Path, sdk: SdkBuild, pg_database: Any
) -> None:
    warehouse = pg_database("dw")
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE hq_orders (order_no text PRIMARY KEY, customer_id bigint NOT NULL,"
            " order_date date NOT NULL, status text NOT NULL, total_amount numeric(12,2) NOT NULL, note text)"
        )
        conn.execute(
            "INSERT INTO hq_orders SELECT 'W' || lpad(i::text, 6, '0'), i % 29 + 1,"
            " date '2024-02-01' + i % 200, 'open', round(i * 2.11, 2),"
            " CASE WHEN i % 4 = 0 THEN NULL ELSE 'dw ' || i END"
            f" FROM generate_series(1, {ROWS}) AS i"
        )
    with api_instance(tmp_path, "central", key=HQ_KEY) as central:
        tenant = Tenant(client=env.client, home=tmp_path, api_private_origins=[central.url])
        tenant.cloud_connections = [
            {"name": "dw", "kind": "postgresql", "url": warehouse, "location": "cloud"}
        ]
        pin = sdk.pin(tenant)
        async with running(tenant, agent=False):
            ref = store_cloud_secret(tenant, HQ_KEY)
            body = {
                "source_connection": "dw",
                "source_table": "hq_orders",
                "key": ["order_no"],
                "api": binding("central", url=central.url, pin=pin, accessibility="internet", credential=ref),
                "operation": "create_orders",
                "post": {"records_field": "orders"},
                "batch_rows": 200,
            }
            handle = await start(tenant, "CloudDbToInternetApi", body)
            result = await handle.result()
            await record_history(handle, "CloudDbToInternetApi", "warehouse_to_central")
        read, send = result.steps
        assert (read.location, send.location) == ("cloud", "cloud")
        assert (read.records, send.records, send.calls) == (ROWS, ROWS, 4)
        assert send.fingerprint == read.fingerprint
        with psycopg.connect(warehouse) as conn:
            rows = conn.execute(
                "SELECT order_no, customer_id, order_date, status, total_amount, note FROM hq_orders"
            ).fetchall()
        assert central.orders_digest() == (ROWS, digest(rows))
        assert (central.faults.posts, central.keys_stored()) == (4, 4)


async def test_a_cloud_flow_refuses_a_local_api_and_runs_nothing(
    env: WorkflowEnvironment, tmp_path: Path, sdk: SdkBuild
) -> None:
    with api_instance(tmp_path, "central", key=HQ_KEY) as central:
        tenant = Tenant(client=env.client, home=tmp_path)
        pin = sdk.pin(tenant)
        async with running(tenant, agent=False):
            local = binding("onprem", url=central.url, pin=pin, accessibility="local", credential="onprem")
            body = {
                "source": local,
                "list_operation": "list_orders",
                "destination": binding(
                    "central", url=central.url, pin=pin, accessibility="internet", credential="x"
                ),
                "operation": "create_orders",
            }
            handle = await start(tenant, "InternetApiToInternetApi", body)
            with pytest.raises(Exception) as failed:
                await handle.result()
            await record_history(handle, "InternetApiToInternetApi", "refuses_local_source")
    cause = failed.value.cause  # type: ignore[attr-defined]
    assert cause.type == "InvalidWorkflowInput" and "reads an internet API" in str(cause), cause
    assert central.faults.lists == central.faults.posts == 0
