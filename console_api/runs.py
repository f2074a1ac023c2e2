"""Start and follow workflow runs from the control plane.

Task queue and workflow type are derived here from the tenant and the pattern, never taken
from the caller's JSON.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from temporalio.client import Client, WorkflowHandle, WorkflowQueryFailedError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from activities.crypto import Keyring
from activities.payload_codec import encrypting_converter
from activities.wiring import build_payload_keyring
from console_api.settings import ConsoleSettings
from infra.devstack import UI_PORT
from workflows.converter import DATA_CONVERTER
from workflows.queues import cloud_queue
from workflows.registry import WORKFLOW_BY_PATTERN
from workflows.sync_types import SyncResult, SyncState

NAMESPACE = "default"


def ui_link(workflow_id: str, run_id: str | None) -> str:
    """The run's page in the Temporal Web UI."""
    return f"http://127.0.0.1:{UI_PORT}/namespaces/{NAMESPACE}/workflows/{workflow_id}/{run_id or ''}/history"


def payload_keys(settings: ConsoleSettings, *, home: Path) -> Keyring | None:
    """The payload keyring of the stack under ``home`` (the cloud worker's); ``None``: encryption off."""
    if not settings.payload_encryption:
        return None
    return build_payload_keyring(settings.buffer.under(home), keyring_dir=home / settings.payload_keyring_dir)


async def start_run(
    *,
    address: str,
    tenant: str,
    pattern: str,
    body: dict[str, Any],
    workflow_id: str,
    keyring: Keyring | None,
) -> WorkflowHandle[Any, SyncResult]:
    """Start the workflow of ``pattern`` on the tenant's cloud queue, encrypted under ``keyring`` if given."""
    converter = DATA_CONVERTER if keyring is None else encrypting_converter(tenant=tenant, keyring=keyring)
    client = await Client.connect(address, namespace=NAMESPACE, data_converter=converter)
    cls = WORKFLOW_BY_PATTERN[pattern]
    try:
        return await client.start_workflow(
            cls.run,  # type: ignore[attr-defined]
            body,
            id=workflow_id,
            task_queue=cloud_queue(tenant),
            result_type=SyncResult,
        )
    except WorkflowAlreadyStartedError:
        raise RuntimeError(f"workflow id {workflow_id} is already running") from None


async def follow_run(handle: WorkflowHandle[Any, SyncResult], *, console: Console) -> SyncResult:
    """Show rows moved per table until the run ends, then return its result."""
    result_task = asyncio.ensure_future(handle.result())
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=None)
        while not result_task.done():
            try:
                state = await handle.query("progress", result_type=SyncState)
                cur = state.current
                text = f"{len(state.done)} table(s) done"
                if cur is not None:
                    text += f"; {cur.source_table}: {cur.rows_read:,} rows read, {cur.rows_written:,} written"
                bar.update(task, description=text)
            except (RPCError, WorkflowQueryFailedError):
                # A query can race the first workflow task or the run's end; the result tells the rest.
                pass
            await asyncio.wait([result_task], timeout=0.5)
    return result_task.result()


def print_results(console: Console, result: SyncResult, *, link: str) -> None:
    """One line per table: counts, both fingerprints' row counts and whether the hashes match."""
    table = Table("pattern", "table", "rows read", "rows written", "source rows", "dest rows", "hash equal")
    for t in result.tables:
        table.add_row(
            result.pattern,
            f"{t.source_table} -> {t.destination_table}",
            f"{t.rows_read:,}",
            f"{t.rows_written:,}",
            f"{t.source.rows:,}" if t.source else "-",
            f"{t.destination.rows:,}" if t.destination else "-",
            "[green]yes[/]" if t.verified else "[red]no[/]",
        )
    console.print(table)
    console.print(f"  {link}")
