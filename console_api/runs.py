"""Start and follow workflow runs from the control plane.

Task queue and workflow type are derived here from the tenant and the pattern, never taken
from the caller's JSON.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from pydantic import BaseModel
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
from workflows.fan_types import FanInResult, FanOutResult
from workflows.queues import cloud_queue
from workflows.registry import SYNC_PATTERNS, WORKFLOW_BY_PATTERN
from workflows.sync_types import SyncResult, SyncState

NAMESPACE = "default"
"""Mode 2 patterns: they return an ``ApiFlowResult`` and their progress query is not a ``SyncState``."""
RunResult = SyncResult | ApiFlowResult | FanOutResult | FanInResult | BidiResult


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
        # The result type comes from the run method's annotation.
        return await client.start_workflow(
            cls.run,  # type: ignore[attr-defined]
            body,
            id=workflow_id,
            task_queue=cloud_queue(tenant),
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
    if isinstance(state, int):  # 3.1.2, 3.2.2: records sent so far
        return f"{state:,} records sent"
    if isinstance(state, list):  # 3.3.3, 3.2.1: the steps finished so far
        return f"{len(state)} step(s) done"
    if isinstance(state, dict) and "destinations" in state:  # 3.4.1: every destination's state
        done = sum(d.get("state") == "done" for d in state["destinations"])
        return (
            f"{state.get('rows_extracted', 0):,} rows extracted; {done}/{len(state['destinations'])} loaded"
        )
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
                if pattern in SYNC_PATTERNS:
                    state: Any = await handle.query("progress", result_type=SyncState)
                else:
                    state = await handle.query("progress")
                bar.update(task, description=progress_text(state))
            except (RPCError, WorkflowQueryFailedError):
                # A query can race the first workflow task or the run's end; the result tells the rest.
                pass
            await asyncio.wait([result_task], timeout=0.5)
    return result_task.result()


def verified(result: RunResult) -> bool:
    """Whether a run checked out, so the demo and ``vsc run`` can say so.

    Sync patterns: every table's hashes equal (a derived table's: its plan output's and its
    destination's). 3.1.2, 3.2.2: the sent records' hash equals the
    table's. 3.3.3, 3.2.1 (a transform may filter and rewrite): the load's fingerprint counts every
    record sent.
    """
    if isinstance(result, SyncResult):
        return all(t.verified for t in result.tables) and all(d.verified for d in result.derived)
    if isinstance(result, FanOutResult):
        return result.complete
    if isinstance(result, FanInResult):
        return result.destination == result.merged
    if isinstance(result, BidiResult):  # no fingerprints: the two sides may differ by parked conflicts
        return True
    if not result.steps:
        return False
    if result.pattern in ("3.1.2", "3.2.2"):
        read, send = result.steps[0], result.steps[-1]
        return read.fingerprint is not None and read.fingerprint == send.fingerprint
    last = result.steps[-1]
    return len(result.steps) == 1 or (last.fingerprint is not None and last.fingerprint.rows == last.records)


def print_results(console: Console, result: RunResult, *, link: str) -> None:
    """One line per table (or Mode 2 step): counts, fingerprint row counts and whether the hashes match."""
    if isinstance(result, ApiFlowResult):
        _print_api_result(console, result, link=link)
        return
    if isinstance(result, FanOutResult | FanInResult):
        _print_fan_result(console, result, link=link)
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
    for d in result.derived:
        table.add_row(
            result.pattern,
            f"derived -> {d.destination_table}",
            "-",
            f"{d.rows_written:,}",
            f"{d.output.rows:,}",
            f"{d.destination.rows:,}" if d.destination else "-",
            "[green]yes[/]" if d.verified else "[red]no[/]",
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


def _print_fan_result(console: Console, result: FanOutResult | FanInResult, *, link: str) -> None:
    """Fan-out: one line per destination; fan-in: one per source and one for the load."""
    mark = "[green]yes[/]" if verified(result) else "[red]no[/]"
    table = Table("pattern", "endpoint", "state", "attempts", "rows", "hash rows", "verified")
    if isinstance(result, FanOutResult):
        for d in result.destinations:
            rows = f"{d.rows_written:,}"
            hashed = f"{d.fingerprint.rows:,}" if d.fingerprint else "-"
            table.add_row(result.pattern, d.connection, d.state, str(d.attempts), rows, hashed, mark)
    else:
        for s in result.sources:
            table.add_row(
                result.pattern, s.connection, "read", "-", f"{s.rows_read:,} ({s.rows_kept:,} kept)", "-", ""
            )
        hashed = f"{result.destination.rows:,}" if result.destination else "-"
        table.add_row(
            result.pattern, "merged -> destination", "loaded", "-", f"{result.rows_written:,}", hashed, mark
        )
    console.print(table)
    console.print(f"  {link}")


class SummaryLine(BaseModel):
    """One pattern's run as the demo's closing table shows it."""

    pattern: str
    counts: str
    verified: bool
    link: str

    @classmethod
    def of(cls, result: RunResult, *, link: str, label: str = "") -> SummaryLine:
        """The run's counts in a few words (tables and rows, records sent, rows per destination).

        ``label`` names the run among others of its pattern (its source connection).
        """
        if isinstance(result, SyncResult):
            rows = sum(t.rows_written for t in result.tables)
            counts = f"{len(result.tables)} table(s), {rows:,} rows written"
        elif isinstance(result, ApiFlowResult):
            counts = (
                f"{result.steps[0].records:,} read, {result.records_sent:,} records sent"
                if result.steps
                else "-"
            )
        elif isinstance(result, FanOutResult):
            each = ", ".join(f"{d.connection} {d.rows_written:,}" for d in result.destinations)
            counts = f"{result.rows_extracted:,} rows extracted once -> {each}"
        elif isinstance(result, BidiResult):
            counts = (
                f"left wrote {result.left.rows_written:,}, right wrote {result.right.rows_written:,}, "
                f"{result.conflicts:,} conflicts ({result.parked:,} parked)"
            )
        else:
            read = sum(s.rows_read for s in result.sources)
            counts = (
                f"{read:,} rows from {len(result.sources)} sources, "
                f"{result.duplicates_dropped:,} duplicates dropped, {result.rows_written:,} loaded"
            )
        counts = f"{label}: {counts}" if label else counts
        return cls(pattern=result.pattern, counts=counts, verified=verified(result), link=link)


def print_summary(console: Console, lines: list[SummaryLine]) -> None:
    """One line per pattern: counts, verified, and where to look in the Web UI."""
    table = Table(title="every pattern, one line each")
    table.add_column("pattern", no_wrap=True)
    table.add_column("counts")
    table.add_column("verified", no_wrap=True)
    table.add_column("Web UI", overflow="fold")  # a link must stay whole to be followed
    for line in lines:
        table.add_row(
            line.pattern, line.counts, "[green]yes[/]" if line.verified else "[red]no[/]", line.link
        )
    console.print(table)
