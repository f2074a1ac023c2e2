"""``vsc demo``: the van-sales ERP moved by every pattern on the embedded stack.

The "on-premise" ERP lives in SQLite, MariaDB and PostgreSQL databases; 3.1.1 copies each of
them into a local PostgreSQL warehouse on the agent, 3.3.1 moves the PostgreSQL ERP to the
"cloud" PostgreSQL through the encrypted buffer with a transform on the way, 3.3.2 brings the
invoices back, 3.4.1 fans the products out to both warehouses from one extract and 3.4.2 merges
the customers of the ERP and of the cloud into one table. The Mode 2 patterns follow
(:mod:`console_api.demo_apis`). The run ends with one line per pattern.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pymysql
from rich.console import Console

from activities.crypto import Keyring
from console_api.runs import (
    SummaryLine,
    follow_run,
    print_results,
    start_run,
    ui_link,
    verified,
)
from infra.demo.load import create_and_load
from infra.demo.vansales import TABLES

PG = "postgresql://postgres@127.0.0.1:5432/{db}"
MARIADB = "mysql://root@127.0.0.1:3306/{db}"
ADDRESS = "127.0.0.1:7233"


def _recreate_pg(db: str) -> None:
    with psycopg.connect(PG.format(db="postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}"')


def _recreate_mariadb(db: str) -> None:
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{db}`")
            cur.execute(f"CREATE DATABASE `{db}`")
    finally:
        conn.close()


def write_cloud_registry(home: Path) -> None:
    """The cloud worker's connection registry: the "cloud" warehouse (the agent's are in its vault)."""
    cloud = [
        {
            "name": "cloud_dw",
            "kind": "postgresql",
            "url": PG.format(db="vsc_cloud"),
            "location": "cloud",
            "write": True,
        },
    ]
    path = home / "cloud-connections.json"
    path.write_text(json.dumps({"connections": cloud}, indent=2))
    path.chmod(0o600)


ORDER_LINES_TRANSFORM: dict[str, Any] = {
    "filter": "quantity > 0",
    "derive": [{"name": "line_total", "expr": "round(quantity * unit_price, 2)", "type": "decimal(14,2)"}],
}


def demo_runs() -> list[tuple[str, dict[str, Any]]]:
    """The demo's workflow inputs: three 3.1.1 copies, a 3.3.1 cloud sync and a 3.3.2 one back."""
    names = [t.table for t in TABLES]
    runs: list[tuple[str, dict[str, Any]]] = []
    for source, prefix in (("erp_sqlite", "sqlite_"), ("erp_mariadb", "mariadb_"), ("erp_pg", "pg_")):
        tables = [{"source_table": n, "destination_table": prefix + n} for n in names]
        runs.append(
            (
                "3.1.1",
                {
                    "agent": "edge-1",
                    "source_connection": source,
                    "destination_connection": "local_dw",
                    "tables": tables,
                },
            )
        )
    cloud_tables: list[dict[str, Any]] = [
        {"source_table": n, "incremental_column": "updated_at"} for n in names if n != "order_lines"
    ]
    cloud_tables.append(
        {
            "source_table": "order_lines",
            "incremental_column": "updated_at",
            "transform": ORDER_LINES_TRANSFORM,
        }
    )
    runs.append(
        (
            "3.3.1",
            {
                "agent": "edge-1",
                "source_connection": "erp_pg",
                "destination_connection": "cloud_dw",
                # Every demo run recreates the warehouse, so its incremental cursors start afresh too
                # (a fixed name would resume after the last run's cursor and copy nearly nothing).
                "pipeline": f"demo-erp-to-cloud-{uuid.uuid4().hex[:8]}",
                "tables": cloud_tables,
            },
        )
    )
    # And back: the cloud's copy of the invoices, with a derived column, to the local warehouse.
    back = {
        "source_table": "invoices",
        "destination_table": "cloud_invoices",
        "transform": {"derive": [{"name": "amount_cents", "expr": "CAST(amount * 100 AS BIGINT)"}]},
    }
    runs.append(
        (
            "3.3.2",
            {
                "agent": "edge-1",
                "source_connection": "cloud_dw",
                "destination_connection": "local_dw",
                "tables": [back],
            },
        )
    )
    return [*runs, *fan_runs()]


def fan_runs() -> list[tuple[str, dict[str, Any]]]:
    """3.4.1: the ERP's products, extracted once, into both warehouses; 3.4.2: two customer tables merged."""
    erp = {"connection": "erp_pg", "kind": "local_db"}
    local_dw = {"connection": "local_dw", "kind": "local_db"}
    cloud_dw = {"connection": "cloud_dw", "kind": "cloud_db"}
    fan_out = {
        "agent": "edge-1",
        "source": erp,
        "table": {"source_table": "products", "destination_table": "fan_products"},
        "destinations": [local_dw, cloud_dw],
    }
    fan_in = {
        "agent": "edge-1",
        # The cloud's copy first: on an equal updated_at its row wins.
        "sources": [{"endpoint": cloud_dw, "table": "customers"}, {"endpoint": erp, "table": "customers"}],
        "key": ["customer_id"],
        "version_column": "updated_at",
        "destination": local_dw,
        "destination_table": "merged_customers",
    }
    return [("3.4.1", fan_out), ("3.4.2", fan_in)]


def prepare_demo(*, home: Path, scale: float, console: Console) -> None:
    """(Re)create the demo databases, write the cloud registry and load the ERP."""
    home.mkdir(parents=True, exist_ok=True)
    with console.status("creating demo databases..."):
        for db in ("vsc_onprem", "vsc_local_dw", "vsc_cloud"):
            _recreate_pg(db)
        _recreate_mariadb("vsc_onprem")
        (home / "onprem.db").unlink(missing_ok=True)
    write_cloud_registry(home)
    sources = {
        "SQLite": f"sqlite:///{(home / 'onprem.db').resolve()}",
        "MariaDB": MARIADB.format(db="vsc_onprem"),
        "PostgreSQL": PG.format(db="vsc_onprem"),
    }
    for label, url in sources.items():
        with console.status(f"generating the van-sales ERP in {label} (scale {scale})..."):
            counts = create_and_load(url, scale=scale)
        console.print(f"on-premise ERP in {label}: {sum(counts.values()):,} rows in {len(counts)} tables")


async def run_demo_flows(
    *, console: Console, keyring: Keyring | None, summary: list[SummaryLine], home: Path | None = None
) -> bool:
    """Run every demo flow on the running stack and print its results; True when every table verified.

    ``keyring``: the stack's payload keyring, so the inputs are encrypted as the cloud worker expects.
    ``home``: the stack's home; given, the Mode 2 patterns (3.1.2, 3.3.3) run too (``demo_apis``).
    """
    ok = True
    for pattern, body in demo_runs():
        where = f"-{body['source_connection']}" if "source_connection" in body else ""
        workflow_id = f"demo-{pattern}{where}-{uuid.uuid4().hex[:8]}"
        handle = await start_run(
            address=ADDRESS,
            tenant="demo",
            pattern=pattern,
            body=body,
            workflow_id=workflow_id,
            keyring=keyring,
        )
        result = await follow_run(handle, console=console, pattern=pattern)
        link = ui_link(handle.id, handle.result_run_id)
        print_results(console, result, link=link)
        summary.append(SummaryLine.of(result, link=link, label=body.get("source_connection", "")))
        ok = ok and verified(result)
    from console_api.demo_bidi import run_bidi_act

    bidi = await run_bidi_act(address=ADDRESS, keyring=keyring, console=console)
    summary.append(bidi)
    ok = ok and bidi.verified
    if home is not None:
        from console_api.demo_apis import run_api_flows

        ok = (
            await run_api_flows(
                home=home,
                address=ADDRESS,
                tenant="demo",
                agent="edge-1",
                keyring=keyring,
                console=console,
                summary=summary,
            )
            and ok
        )
    console.print("[bold green]all tables verified[/]" if ok else "[bold red]some tables did not verify[/]")
    console.print("List the runs with: .venv/bin/temporal workflow list --address 127.0.0.1:7233")
    console.print("Web UI: http://127.0.0.1:8233/namespaces/default/workflows")
    return ok
