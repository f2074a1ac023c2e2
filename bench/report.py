"""Benchmark records and their summary: one JSON line per run, one table per benchmark.

Ratios compare a system only with the raw binary pipe measured in the same benchmark on the
same table, never with figures from another run or machine.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

BASELINE = "raw_pipe"


class RunRecord(BaseModel):
    """One timed copy of one table by one system, with its parity check."""

    bench_id: str
    system: str
    label: str
    table: str
    rep: int
    position: int
    """Where the system ran within its repetition (the order rotates between repetitions)."""
    rows: int
    binary_bytes: int
    wall_s: float | None
    dst_rows: int | None
    hash_ok: bool
    error: str | None = None
    postgres: str = ""
    python: str = ""

    @property
    def ok(self) -> bool:
        """The run finished and the destination equals the source (count and content hash)."""
        return self.error is None and self.hash_ok


class SummaryRow(BaseModel):
    """Median figures of one system on one table."""

    system: str
    label: str
    table: str
    rows: int
    runs: int
    median_wall_s: float | None
    rows_per_s: float | None
    mb_per_s: float | None
    ratio: float | None
    hash_ok: bool


def append_jsonl(path: Path, record: RunRecord) -> None:
    """Append one record as a JSON line (written as runs finish, so an aborted benchmark keeps them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(record.model_dump_json() + "\n")


def summarise(records: list[RunRecord]) -> list[SummaryRow]:
    """Median wall time per (system, table) over successful runs, and its ratio to the raw pipe."""
    groups: dict[tuple[str, str], list[RunRecord]] = {}
    for record in records:
        groups.setdefault((record.table, record.system), []).append(record)
    medians = {
        key: statistics.median(r.wall_s for r in runs if r.ok and r.wall_s is not None)
        if any(r.ok for r in runs)
        else None
        for key, runs in groups.items()
    }
    rows = []
    for (table, system), runs in groups.items():
        first, median = runs[0], medians[(table, system)]
        baseline = medians.get((table, BASELINE))
        rows.append(
            SummaryRow(
                system=system,
                label=first.label,
                table=table,
                rows=first.rows,
                runs=len(runs),
                median_wall_s=median,
                rows_per_s=first.rows / median if median else None,
                mb_per_s=first.binary_bytes / median / 1e6 if median else None,
                ratio=baseline / median if median and baseline else None,
                hash_ok=all(r.ok for r in runs),
            )
        )
    return rows


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def render(rows: list[SummaryRow], *, title: str) -> Table:
    """The summary as a rich table, grouped by source table in benchmark order."""
    table = Table(title=title)
    for name, justify in (
        ("system", "left"),
        ("table", "left"),
        ("rows", "right"),
        ("runs", "right"),
        ("median wall s", "right"),
        ("rows/s", "right"),
        ("MB/s", "right"),
        ("vs raw pipe", "right"),
        ("hash ok", "center"),
    ):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(
            row.label,
            row.table,
            f"{row.rows:,}",
            str(row.runs),
            _fmt(row.median_wall_s, ".2f"),
            _fmt(row.rows_per_s, ",.0f"),
            _fmt(row.mb_per_s, ".1f"),
            _fmt(row.ratio, ".2f"),
            "yes" if row.hash_ok else "NO",
        )
    return table


def print_summary(console: Console, rows: list[SummaryRow], *, title: str) -> None:
    """Print the summary table."""
    console.print(render(rows, title=title))
