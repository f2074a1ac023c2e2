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
from workflows.api_types import ApiFlowResult
from workflows.bidi_types import BidiResult
from workflows.converter import DATA_CONVERTER
from workflows.queues import cloud_queue
from workflows.registry import WORKFLOW_BY_PATTERN
from workflows.sync_types import SyncResult, SyncState

NAMESPACE = "default"
API_PATTERNS = frozenset({"3.1.2", "3.3.3"})
"""Mode 2 patterns: they return an ``ApiFlowResult`` and their progress query is not a ``SyncState``."""
BIDI_PATTERN = "3.4.3"
"""Bidirectional sync: returns a ``BidiResult``; its progress query is the stage it is in."""
RunResult = SyncResult | ApiFlowResult | BidiResult


def result_type_of(pattern: str) -> type[RunResult]:
    """The result model of ``pattern``'s workflow."""
    if pattern in API_PATTERNS:
        return ApiFlowResult
    return BidiResult if pattern == BIDI_PATTERN else SyncResult


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
) -> WorkflowHandle[Any, RunResult]:
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
            result_type=result_type_of(pattern),
        )
    except WorkflowAlreadyStartedError:
        raise RuntimeError(f"workflow id {workflow_id} is already running") from None


def progress_text(state: Any) -> str:
    """One line of a run's ``progress`` query: tables (sync patterns), records or steps (Mode 2)."""
    if isinstance(state, SyncState):
        cur = state.current
        text = f"{len(state.done)} table(s) done"
        if cur is not None:
            text += f"; {cur.source_table}: {cur.rows_read:,} rows read, {cur.rows_written:,} written"
        return text
    if isinstance(state, int):  # 3.1.2: records sent so far
        return f"{state:,} records sent"
    if isinstance(state, list):  # 3.3.3: the steps finished so far
        return f"{len(state)} step(s) done"
    if isinstance(state, str):  # 3.4.3: the stage of the round
        return state
    return "running"


async def follow_run(
    handle: WorkflowHandle[Any, RunResult], *, console: Console, pattern: str = ""
) -> RunResult:
    """Show progress until the run ends, then return its result."""
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
                if pattern in API_PATTERNS or pattern == BIDI_PATTERN:
                    state: Any = await handle.query("progress")
                else:
                    state = await handle.query("progress", result_type=SyncState)
                bar.update(task, description=progress_text(state))
            except (RPCError, WorkflowQueryFailedError):
                # A query can race the first workflow task or the run's end; the result tells the rest.
                pass
            await asyncio.wait([result_task], timeout=0.5)
    return result_task.result()


def verified(result: RunResult) -> bool:
    """Whether a run checked out, so the demo and ``vsc run`` can say so.

    Sync patterns: every table's hashes equal. 3.1.2: the sent records' hash equals the table's.
    3.3.3 (its transform filters and rewrites): the load's fingerprint counts every record sent.
    """
    if isinstance(result, SyncResult):
        return all(t.verified for t in result.tables)
    if isinstance(result, BidiResult):  # no fingerprints: the two sides may differ by parked conflicts
        return True
    if not result.steps:
        return False
    if result.pattern == "3.1.2":
        read, send = result.steps[0], result.steps[-1]
        return read.fingerprint is not None and read.fingerprint == send.fingerprint
    last = result.steps[-1]
    return len(result.steps) == 1 or (last.fingerprint is not None and last.fingerprint.rows == last.records)


def print_results(console: Console, result: RunResult, *, link: str) -> None:
    """One line per table (or Mode 2 step): counts, fingerprint row counts and whether the hashes match."""
    if isinstance(result, ApiFlowResult):
        _print_api_result(console, result, link=link)
        return
    if isinstance(result, BidiResult):
        _print_bidi_result(console, result, link=link)
        return
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


def _print_api_result(console: Console, result: ApiFlowResult, *, link: str) -> None:
    table = Table("pattern", "step", "where", "operation", "calls", "records", "hash rows", "verified")
    ok = verified(result)
    for step in result.steps:
        table.add_row(
            result.pattern,
            step.step,
            step.location,
            step.operation,
            f"{step.calls:,}",
            f"{step.records:,}",
            f"{step.fingerprint.rows:,}" if step.fingerprint else "-",
            "[green]yes[/]" if ok else "[red]no[/]",
        )
    console.print(table)
    console.print(f"  {link}")


def _print_bidi_result(console: Console, result: BidiResult, *, link: str) -> None:
    table = Table("pattern", "side", "rows read", "own changes", "rows written")
    for name, side in (("left", result.left), ("right", result.right)):
        table.add_row(
            result.pattern, name, f"{side.rows_read:,}", f"{side.changed:,}", f"{side.rows_written:,}"
        )
    console.print(table)
    console.print(
        f"  conflicts {result.conflicts:,}, parked {result.parked:,}, held {result.held:,}, "
        f"resolutions applied {result.resolved:,} (`vsc conflicts list`)"
    )
    console.print(f"  {link}")
