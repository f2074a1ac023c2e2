"""The demo's 3.4.3 act: the customers kept equal in the agent's warehouse and the cloud's while both change.

After 3.1.1 and 3.3.1 both warehouses hold the ERP's customers (``local_dw.pg_customers`` on the
agent, ``cloud_dw.customers`` in the cloud). A first round agrees on them; then customers 1-30 are
edited on the agent's side and 21-50 in the cloud, the cloud's edits of 21-30 being later, and a
second round exchanges the edits (last writer wins). A third round with no edits must write
nothing anywhere: what the sync applied is never read back as a change (0 echoes).
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from rich.console import Console

from activities.crypto import Keyring
from console_api.runs import SummaryLine, follow_run, print_results, start_run, ui_link
from workflows.bidi_types import BidiResult

PG = "postgresql://postgres@127.0.0.1:5432/{db}"
LEFT_EDITS = (1, 30)
RIGHT_EDITS = (21, 50)
_CITY = "SELECT md5(string_agg(customer_id || ':' || city, ',' ORDER BY customer_id)) FROM {table}"


def bidi_body(pipeline: str) -> dict[str, Any]:
    """One round's input: the agent's copy of the customers (left) against the cloud's (right)."""
    return {
        "agent": "edge-1",
        "pipeline": pipeline,
        "left": {"connection": "local_dw", "table": "pg_customers", "location": "local"},
        "right": {"connection": "cloud_dw", "table": "customers", "location": "cloud"},
        "change_column": "updated_at",
        "policy": "last_writer_wins",
    }


def edit_both_sides() -> None:
    """Customers 1-30 edited on the agent's side, 21-50 in the cloud one hour later (the cloud wins 21-30)."""
    edits = (
        ("vsc_local_dw", "pg_customers", LEFT_EDITS, "city || ' (depot)'", "2030-01-01 10:00:00+00"),
        ("vsc_cloud", "customers", RIGHT_EDITS, "upper(city)", "2030-01-01 11:00:00+00"),
    )
    for db, table, (low, high), city, stamp in edits:
        with psycopg.connect(PG.format(db=db), autocommit=True) as conn:
            conn.execute(
                f"UPDATE {table} SET city = {city}, updated_at = %s WHERE customer_id BETWEEN %s AND %s",
                (stamp, low, high),
            )


def cities_equal() -> bool:
    """Whether both warehouses hold the same city for every customer."""
    found = []
    for db, table in (("vsc_local_dw", "pg_customers"), ("vsc_cloud", "customers")):
        with psycopg.connect(PG.format(db=db)) as conn:
            row = conn.execute(_CITY.format(table=table)).fetchone()
        found.append(row[0] if row else None)
    return found[0] is not None and found[0] == found[1]


async def run_bidi_act(*, address: str, keyring: Keyring | None, console: Console) -> SummaryLine:
    """Three rounds (agree, exchange the edits, prove 0 echoes); the exchange's summary line."""
    pipeline = f"demo_customers_{uuid.uuid4().hex[:8]}"
    results: list[BidiResult] = []
    link = ""
    for round_no in (1, 2, 3):
        if round_no == 2:
            edit_both_sides()
        handle = await start_run(
            address=address,
            tenant="demo",
            pattern="3.4.3",
            body=bidi_body(pipeline),
            workflow_id=f"demo-3.4.3-round{round_no}-{uuid.uuid4().hex[:8]}",
            keyring=keyring,
        )
        result = await follow_run(handle, console=console, pattern="3.4.3")
        assert isinstance(result, BidiResult), result
        results.append(result)
        if round_no == 2:
            link = ui_link(handle.id, handle.result_run_id)
            print_results(console, result, link=link)
    exchange, after = results[1], results[2]
    echoes = after.left.rows_written + after.right.rows_written
    ok = echoes == 0 and cities_equal()
    counts = (
        f"edits exchanged: agent side wrote {exchange.left.rows_written:,}, cloud side "
        f"{exchange.right.rows_written:,}, {exchange.conflicts:,} conflicts (last writer wins); "
        f"next round {echoes} echoes"
    )
    console.print(f"3.4.3: {counts}; both warehouses equal: {'yes' if ok else 'NO'}")
    return SummaryLine(pattern="3.4.3", counts=counts, verified=ok, link=link)
