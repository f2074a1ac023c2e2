"""Patterns 3.1.2 and 3.3.3 end to end: real SDK, Temporal, agent and cloud workers, PostgreSQL, API.

The example van-sales API runs on loopback ports; its SDK is generated from its own
``/openapi.json`` and compiled once per session. Every run checks counts and content hashes on
both ends; the bad-input runs check the error the run fails with and that nothing (or nothing
twice) was written downstream.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pydantic import SecretStr
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.api_sources import MappingSecrets
from examples.vansales_api.store import orders
from tests.workflows.api_env import (
    CURSOR_PAGES,
    ApiInstance,
    Faults,
    SdkBuild,
    api_instance,
    binding,
    digest,
    seed_orders,
    store_cloud_secret,
)
from tests.workflows.harness import Tenant, running
from workflows.api_types import ApiFlowResult
from workflows.queues import cloud_queue

pytestmark = pytest.mark.timeout(240)
ROWS = 1250
LISTED = 900
FAST_RETRY = {"maximum_attempts": 3, "initial_seconds": 0.1, "maximum_seconds": 0.2}
SRC_KEY = "vansales-onprem-key-0001"
DST_KEY = "central-internet-key-0002"


@pytest.fixture
def erp(pg_database: Any) -> Iterator[str]:
    """A local PostgreSQL database with ``van_orders``: ROWS rows, some notes NULL."""
    url = pg_database("erp")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE van_orders (order_no text PRIMARY KEY, customer_id bigint NOT NULL,"
            " order_date date NOT NULL, status text NOT NULL, total_amount numeric(12,2) NOT NULL, note text)"
        )
        conn.execute(
            "INSERT INTO van_orders SELECT 'V' || lpad(i::text, 6, '0'), i % 37 + 1,"
            " date '2024-01-01' + i % 300, CASE WHEN i % 5 = 0 THEN 'cancelled' ELSE 'open' END,"
            " round(i * 1.37, 2), CASE WHEN i % 3 = 0 THEN NULL ELSE 'van ' || i END"
            f" FROM generate_series(1, {ROWS}) AS i"
        )
    yield url


def pg_digest(url: str) -> tuple[int, str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT order_no, customer_id, order_date, status, total_amount, note FROM van_orders"
        ).fetchall()
    return len(rows), digest(rows)


def db_to_api(api: ApiInstance, tenant: Tenant, sdk: SdkBuild, **extra: Any) -> dict[str, Any]:
    return {
        "agent": tenant.agent,
        "source_connection": "erp_pg",
        "source_table": "van_orders",
        "key": ["order_no"],
        "api": binding(
            "vansales", url=api.url, pin=sdk.pin(tenant), accessibility="local", credential="vansales"
        ),
        "operation": "create_orders",
        "post": {"records_field": "orders"},
        "batch_rows": 250,
        **extra,
    }


def local_tenant(tmp_path: Path, env: WorkflowEnvironment, erp: str, *, secret: str = SRC_KEY) -> Tenant:
    tenant = Tenant(client=env.client, home=tmp_path)
    tenant.agent_connections = [{"name": "erp_pg", "kind": "postgresql", "url": erp}]
    tenant.agent_api_secrets = MappingSecrets(lambda: {"vansales": SecretStr(secret)})
    return tenant


async def run(tenant: Tenant, workflow: str, body: dict[str, Any]) -> ApiFlowResult | WorkflowFailureError:
    handle = await tenant.client.start_workflow(
        workflow,
        body,
        id=f"{workflow}-{uuid.uuid4().hex[:10]}",
        task_queue=cloud_queue(tenant.name),
        result_type=ApiFlowResult,
    )
    try:
        return await handle.result()
    except WorkflowFailureError as exc:
        return exc


def failure(outcome: object) -> ApplicationError:
    """The typed activity error a failed run ended with."""
    assert isinstance(outcome, WorkflowFailureError), outcome
    cause = outcome.cause
    assert isinstance(cause, ActivityError), cause
    assert isinstance(cause.cause, ApplicationError), cause.cause
    return cause.cause


async def test_3_1_2_local_table_posted_to_local_api(
    env: WorkflowEnvironment, tmp_path: Path, erp: str, sdk: SdkBuild
) -> None:
    tenant = local_tenant(tmp_path, env, erp)
    with api_instance(tmp_path, "onprem", key=SRC_KEY) as api:
        async with running(tenant):
            result = await run(tenant, "LocalDbToLocalApi", db_to_api(api, tenant, sdk))
        assert isinstance(result, ApiFlowResult), result
        read, send = result.steps
        assert (read.location, send.location) == ("agent", "agent")
        assert (read.records, send.records, send.calls) == (ROWS, ROWS, 5)
        assert send.fingerprint == read.fingerprint  # what was sent is the table, row for row
        assert api.orders_digest() == pg_digest(erp)
        assert (api.faults.posts, api.keys_stored(), len(set(api.faults.keys))) == (5, 5, 5)


async def test_3_3_3_local_api_through_cloud_transform_to_internet_api(
    env: WorkflowEnvironment, tmp_path: Path, sdk: SdkBuild
) -> None:
    with (
        api_instance(tmp_path, "onprem", key=SRC_KEY) as source,
        api_instance(tmp_path, "central", key=DST_KEY) as central,
    ):
        seed_orders(source, LISTED)
        tenant = Tenant(client=env.client, home=tmp_path, api_private_origins=[central.url])
        tenant.agent_api_secrets = MappingSecrets(lambda: {"onprem": SecretStr(SRC_KEY)})
        pin = sdk.pin(tenant)
        async with running(tenant):
            ref = store_cloud_secret(tenant, DST_KEY)
            body = {
                "agent": tenant.agent,
                "source": binding(
                    "onprem", url=source.url, pin=pin, accessibility="local", credential="onprem"
                ),
                "list_operation": "list_orders",
                "pagination": CURSOR_PAGES,
                "records_table": "orders",
                "transform": {
                    "filter": "status <> 'cancelled'",
                    "derive": [
                        {"name": "order_no", "expr": "concat('HQ-', order_no)"},
                        {"name": "status", "expr": "upper(status)"},
                    ],
                    "select": ["order_no", "customer_id", "order_date", "status", "total_amount", "note"],
                },
                "destination": binding(
                    "central", url=central.url, pin=pin, accessibility="internet", credential=ref
                ),
                "operation": "create_orders",
                "post": {"records_field": "orders"},
                "batch_rows": 200,
            }
            result = await run(tenant, "LocalApiToInternetApi", body)
        assert isinstance(result, ApiFlowResult), result
        extract, load = result.steps
        kept = LISTED - LISTED // 5
        assert (extract.location, extract.records, extract.calls) == ("agent", LISTED, LISTED // 100)
        assert (load.location, load.records) == ("cloud", kept)
        rows = source.order_rows(orders.c.status != "cancelled")
        expected = digest((f"HQ-{no}", c, d, s.upper(), t, n) for no, c, d, s, t, n in rows)
        assert central.orders_digest() == (kept, expected)
        # A batch never spans buffer chunks: one POST per listed page (80 kept of 100), under 200 rows.
        assert central.faults.posts == central.keys_stored() == LISTED // 100
        assert not list((tenant.home / "buffer").rglob("*.chunk"))  # purged after the load


async def test_5xx_is_retried_then_fails_clearly_and_nothing_is_written(
    env: WorkflowEnvironment, tmp_path: Path, erp: str, sdk: SdkBuild
) -> None:
    tenant = local_tenant(tmp_path, env, erp)
    with api_instance(tmp_path, "onprem", key=SRC_KEY, faults=Faults(post_status=503)) as api:
        async with running(tenant):
            outcome = await run(tenant, "LocalDbToLocalApi", db_to_api(api, tenant, sdk, retry=FAST_RETRY))
        error = failure(outcome)
        assert error.type == "ApiUnavailableError" and "503" in error.message, error
        assert api.faults.posts == 3  # one per attempt: the first batch, retried twice
        assert api.orders_digest()[0] == 0 and api.keys_stored() == 0


async def test_non_json_list_fails_without_retry_and_nothing_is_sent(
    env: WorkflowEnvironment, tmp_path: Path, sdk: SdkBuild
) -> None:
    with (
        api_instance(tmp_path, "onprem", key=SRC_KEY, faults=Faults(list_garbage=True)) as source,
        api_instance(tmp_path, "central", key=DST_KEY) as central,
    ):
        tenant = Tenant(client=env.client, home=tmp_path, api_private_origins=[central.url])
        tenant.agent_api_secrets = MappingSecrets(lambda: {"onprem": SecretStr(SRC_KEY)})
        pin = sdk.pin(tenant)
        body = {
            "agent": tenant.agent,
            "source": binding("onprem", url=source.url, pin=pin, accessibility="local", credential="onprem"),
            "list_operation": "list_orders",
            "pagination": CURSOR_PAGES,
            "destination": binding(
                "central", url=central.url, pin=pin, accessibility="internet", credential="x"
            ),
            "operation": "create_orders",
            "post": {"records_field": "orders"},
            "retry": FAST_RETRY,
        }
        async with running(tenant):
            outcome = await run(tenant, "LocalApiToInternetApi", body)
        error = failure(outcome)
        assert error.type == "ApiCallError" and "not valid JSON" in error.message, error
        assert source.faults.lists == 1  # terminal: not retried
        assert central.faults.posts == 0 and central.orders_digest()[0] == 0


@pytest.mark.parametrize("case", ["wrong key", "expired key"])
async def test_bad_api_key_fails_authentication_and_nothing_is_written(
    env: WorkflowEnvironment, tmp_path: Path, erp: str, sdk: SdkBuild, case: str
) -> None:
    expired = case == "expired key"
    tenant = local_tenant(tmp_path, env, erp, secret=SRC_KEY if expired else "not-the-key-at-all")
    expires = datetime.now(UTC) - timedelta(days=1) if expired else None
    with api_instance(tmp_path, "onprem", key=SRC_KEY, expires=expires) as api:
        async with running(tenant):
            outcome = await run(tenant, "LocalDbToLocalApi", db_to_api(api, tenant, sdk, retry=FAST_RETRY))
        error = failure(outcome)
        assert error.type == "AuthenticationFailedError", error
        assert SRC_KEY not in error.message and "not-the-key" not in error.message
        assert api.faults.posts == 1  # terminal: not retried
        assert api.orders_digest()[0] == 0 and api.keys_stored() == 0


async def test_batch_retried_after_a_lost_response_is_not_stored_twice(
    env: WorkflowEnvironment, tmp_path: Path, erp: str, sdk: SdkBuild
) -> None:
    tenant = local_tenant(tmp_path, env, erp)
    # The third POST is stored, then its response is lost: the attempt fails and is retried.
    with api_instance(tmp_path, "onprem", key=SRC_KEY, faults=Faults(lose_post=3)) as api:
        async with running(tenant):
            result = await run(tenant, "LocalDbToLocalApi", db_to_api(api, tenant, sdk, retry=FAST_RETRY))
        assert isinstance(result, ApiFlowResult), result
        assert api.faults.posts > 5  # at least the lost batch was sent again
        assert len(set(api.faults.keys)) == 5  # ... under the key it had the first time
        assert api.orders_digest() == pg_digest(erp)  # exactly ROWS orders, none twice
        assert api.keys_stored() == 5
        assert result.steps[1].records == ROWS
