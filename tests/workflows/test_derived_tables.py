"""Pattern 3.3.1 derived tables: a join + aggregate over two tables of the run, built in the cloud."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.fingerprints import fingerprint_batches
from tests.workflows.harness import Tenant, record_history, running
from workflows.sync_types import SyncResult

CITIES = ["Accra", "Bergen", "Cusco", "Dakar", "Essen"]

REVENUE_BY_CITY = {
    "inputs": ["orders", "customers"],
    "steps": [
        {"op": "filter", "name": "paid", "source": "orders", "where": "status = 'paid'"},
        {
            "op": "join",
            "name": "located",
            "left": "paid",
            "right": "customers",
            "on": [{"left": "customer_id", "right": "id"}],
            "right_columns": ["city"],
        },
        {
            "op": "aggregate",
            "name": "by_city",
            "source": "located",
            "group_by": ["city"],
            "aggregates": [
                {"name": "orders", "fn": "count"},
                {"name": "revenue", "fn": "sum", "column": "amount"},
            ],
        },
    ],
}


def make_source(url: str) -> tuple[list[tuple[int, str]], list[tuple[int, int, Decimal, str]]]:
    """40 customers and 300 orders; returns the rows written."""
    rnd = random.Random(7)
    customers = [(i, CITIES[rnd.randrange(len(CITIES))]) for i in range(1, 41)]
    orders = [
        (i, rnd.randint(1, 40), Decimal(rnd.randint(100, 99_999)) / 100, rnd.choice(["paid", "open", "void"]))
        for i in range(1, 301)
    ]
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE customers (id integer PRIMARY KEY, city text NOT NULL)")
        conn.execute(
            "CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer NOT NULL,"
            " amount numeric(10,2) NOT NULL, status text NOT NULL)"
        )
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO customers VALUES (%s, %s)", customers)
            cur.executemany("INSERT INTO orders VALUES (%s, %s, %s, %s)", orders)
    return customers, orders


def setup(tenant: Tenant, src_url: str, cloud_url: str) -> None:
    tenant.agent_connections = [{"name": "erp", "kind": "postgresql", "url": src_url}]
    tenant.cloud_connections = [
        {"name": "cloud", "kind": "postgresql", "url": cloud_url, "location": "cloud", "write": True}
    ]


def body(tenant: Tenant, plan: dict[str, Any]) -> dict[str, Any]:
    return {
        "agent": tenant.agent,
        "source_connection": "erp",
        "destination_connection": "cloud",
        "tables": [{"source_table": "orders"}, {"source_table": "customers"}],
        "derived": [{"destination_table": "revenue_by_city", "plan": plan}],
        # Several batches per table and a continue-as-new between them: the kept chunks of
        # both tables must survive both.
        "limits": {"batch_rows": 50, "max_rows": 100},
        "max_steps_per_run": 3,
    }


async def test_derived_table_joins_and_aggregates_the_runs_tables(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str]
) -> None:
    src_url, cloud_url = pg_database("erp"), pg_database("cloud")
    customers, orders = make_source(src_url)
    tenant = Tenant(client=env.client, home=tmp_path)
    setup(tenant, src_url, cloud_url)
    async with running(tenant):
        handle = await tenant.start("LocalToCloudSync", body(tenant, REVENUE_BY_CITY))
        result: SyncResult = await handle.result()
        # The last run is the one that builds the derived table; the first continued as new.
        await record_history(
            env.client.get_workflow_handle(handle.id), "LocalToCloudSync", "derived_join_aggregate"
        )
        first = await env.client.get_workflow_handle(
            handle.id, run_id=handle.first_execution_run_id
        ).fetch_history()
    assert first.events[-1].HasField("workflow_execution_continued_as_new_event_attributes")

    # Expected rows, computed here from the generated data.
    city_of = dict(customers)
    count: dict[str, int] = defaultdict(int)
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    for _, customer, amount, status in orders:
        if status == "paid":
            count[city_of[customer]] += 1
            revenue[city_of[customer]] += amount
    expected = sorted((city, count[city], revenue[city]) for city in count)
    assert len(expected) == len(CITIES)

    assert [t.destination_table for t in result.tables] == ["orders", "customers"]
    assert all(t.source is not None and t.source == t.destination for t in result.tables)
    (derived,) = result.derived
    assert derived.destination_table == "revenue_by_city"
    assert derived.rows == derived.rows_written == len(expected)
    assert derived.verified
    with psycopg.connect(cloud_url) as conn:
        got = conn.execute("SELECT city, orders, revenue FROM revenue_by_city ORDER BY city").fetchall()
        key = conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
            " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'revenue_by_city'::regclass AND i.indisprimary"
        ).fetchall()
    assert got == expected
    assert key == [("city",)]  # upserted on the aggregate's group-by
    # The content hash, independently: the expected rows as the engine's output types.
    batch = pa.RecordBatch.from_pydict(
        {
            "city": [r[0] for r in expected],
            "orders": pa.array([r[1] for r in expected], pa.int64()),
            "revenue": pa.array([r[2] for r in expected], pa.decimal128(38, 2)),
        }
    )
    assert derived.destination == fingerprint_batches([batch])
    # Kept chunks, and the transform's output, were purged at the end.
    assert not any(p.is_file() for p in (tmp_path / "buffer").rglob("*"))


def unknown_input(inp: dict[str, Any]) -> None:
    """The plan joins ``clients``, which the run does not read."""
    plan = inp["derived"][0]["plan"]
    join = {**plan["steps"][1], "right": "clients"}
    inp["derived"][0]["plan"] = {
        **plan,
        "inputs": ["orders", "clients"],
        "steps": [plan["steps"][0], join, plan["steps"][2]],
    }


def incremental_input(inp: dict[str, Any]) -> None:
    """``orders`` is read incrementally: a run would aggregate only its changed rows."""
    inp["tables"] = [{"source_table": "orders", "incremental_column": "id"}, {"source_table": "customers"}]


def unchanged(inp: dict[str, Any]) -> None:
    """A valid input, started as a pattern that has no derived step."""


@pytest.mark.parametrize(
    ("workflow", "change", "needle"),
    [
        (
            "LocalToCloudSync",
            unknown_input,
            "derived table 'revenue_by_city' reads 'clients', which is no source_table",
        ),
        (
            "LocalToCloudSync",
            incremental_input,
            "derived table 'revenue_by_city' reads 'orders', which is incremental",
        ),
        ("LocalToLocalSync", unchanged, "derived tables run in pattern 3.3.1 only, not 3.1.1"),
    ],
)
async def test_derived_input_the_run_cannot_supply_fails_before_anything_runs(
    env: WorkflowEnvironment,
    tmp_path: Path,
    pg_database: Callable[[str], str],
    workflow: str,
    change: Callable[[dict[str, Any]], None],
    needle: str,
) -> None:
    cloud_url = pg_database("cloud")
    tenant = Tenant(client=env.client, home=tmp_path)
    setup(tenant, "postgresql://postgres@127.0.0.1:5432/unused", cloud_url)
    inp = body(tenant, REVENUE_BY_CITY)
    change(inp)
    async with running(tenant, agent=False):
        handle = await tenant.start(workflow, inp)
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "InvalidWorkflowInput" and cause.non_retryable
    assert needle in cause.message
    with psycopg.connect(cloud_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
    history = await handle.fetch_history()
    assert not [e for e in history.events if e.HasField("activity_task_scheduled_event_attributes")]


async def test_plan_the_inputs_schemas_refuse_fails_once_and_purges_the_run(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str]
) -> None:
    src_url, cloud_url = pg_database("erp"), pg_database("cloud")
    make_source(src_url)
    tenant = Tenant(client=env.client, home=tmp_path)
    setup(tenant, src_url, cloud_url)
    by_city = {**REVENUE_BY_CITY["steps"][2], "aggregates": [{"name": "s", "fn": "sum", "column": "status"}]}
    plan = {**REVENUE_BY_CITY, "steps": [*REVENUE_BY_CITY["steps"][:2], by_city]}
    async with running(tenant):
        handle = await tenant.start("LocalToCloudSync", body(tenant, plan))
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()
        latest = env.client.get_workflow_handle(handle.id)
        await record_history(latest, "LocalToCloudSync", "derived_plan_refused")
        last = await latest.fetch_history()
    cause = info.value.cause.cause  # ActivityError -> ApplicationError
    assert isinstance(cause, ApplicationError)
    assert cause.type == "TransformError" and cause.non_retryable
    assert "by_city" in cause.message and "status" in cause.message
    attempts = [
        e.activity_task_started_event_attributes.attempt
        for e in last.events
        if e.HasField("activity_task_started_event_attributes")
    ]
    assert attempts and max(attempts) == 1  # refused once, not retried
    with psycopg.connect(cloud_url) as conn:
        assert conn.execute("SELECT to_regclass('revenue_by_city')").fetchone() == (None,)
    # The tables' kept chunks were purged even though the derived step failed.
    assert not any(p.is_file() for p in (tmp_path / "buffer").rglob("*"))
