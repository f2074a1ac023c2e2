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
PEER_BASELINE = "dlt"


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
    skipped: bool = False
    """The system is not installed here: reported, but not a failed run."""
    client_cpu_s: float | None = None
    db_cpu_s: float | None = None
    peak_rss_mib: float | None = None
    extra: dict[str, float] = {}
    """System-specific figures (the Temporal variant's history size)."""
    postgres: str = ""
    python: str = ""

    @property
    def ok(self) -> bool:
        """The run finished and the destination equals the source (count and content hash)."""
        return self.error is None and self.hash_ok

    @property
    def cpu_s(self) -> float | None:
        """Client plus database CPU seconds."""
        if self.client_cpu_s is None or self.db_cpu_s is None:
            return None
        return self.client_cpu_s + self.db_cpu_s


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
    ratio_dlt: float | None = None
    """dlt's median wall on the same table / this system's: how many times faster than dlt."""
    client_cpu_s: float | None = None
    db_cpu_s: float | None = None
    rows_per_cpu_s: float | None = None
    peak_rss_mib: float | None = None
    """The largest peak RSS over the system's successful runs."""
    skipped: str | None = None
    """Why the system did not run (not installed), if it did not."""


def append_jsonl(path: Path, record: RunRecord) -> None:
    """Append one record as a JSON line (written as runs finish, so an aborted benchmark keeps them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(record.model_dump_json() + "\n")


def _median(values: list[float | None]) -> float | None:
    found = [v for v in values if v is not None]
    return statistics.median(found) if found else None


def summarise(records: list[RunRecord]) -> list[SummaryRow]:
    """Median figures per (system, table) over successful runs, and ratios to the same run's baselines."""
    groups: dict[tuple[str, str], list[RunRecord]] = {}
    for record in records:
        groups.setdefault((record.table, record.system), []).append(record)
    medians = {key: _median([r.wall_s for r in runs if r.ok]) for key, runs in groups.items()}
    rows = []
    for (table, system), runs in groups.items():
        first, median = runs[0], medians[(table, system)]
        good = [r for r in runs if r.ok]
        baseline = medians.get((table, BASELINE))
        dlt = medians.get((table, PEER_BASELINE))
        cpu = _median([r.cpu_s for r in good])
        peaks = [r.peak_rss_mib for r in good if r.peak_rss_mib is not None]
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
                ratio_dlt=dlt / median if median and dlt else None,
                hash_ok=all(r.ok for r in runs) and not first.skipped,
                client_cpu_s=_median([r.client_cpu_s for r in good]),
                db_cpu_s=_median([r.db_cpu_s for r in good]),
                rows_per_cpu_s=first.rows / cpu if cpu else None,
                peak_rss_mib=max(peaks) if peaks else None,
                skipped=first.error if first.skipped else None,
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
        ("vs dlt", "right"),
        ("CPU s tool+db", "right"),
        ("rows/CPU-s", "right"),
        ("peak RSS MiB", "right"),
        ("hash ok", "center"),
    ):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for row in rows:
        cpu = "-" if row.client_cpu_s is None else f"{row.client_cpu_s:.1f}+{row.db_cpu_s or 0:.1f}"
        table.add_row(
            row.label,
            row.table,
            f"{row.rows:,}",
            str(row.runs),
            _fmt(row.median_wall_s, ".2f"),
            _fmt(row.rows_per_s, ",.0f"),
            _fmt(row.mb_per_s, ".1f"),
            _fmt(row.ratio, ".2f"),
            _fmt(row.ratio_dlt, ".2f"),
            cpu,
            _fmt(row.rows_per_cpu_s, ",.0f"),
            _fmt(row.peak_rss_mib, ",.0f"),
            "not installed" if row.skipped else ("yes" if row.hash_ok else "NO"),
        )
    return table


def print_summary(console: Console, rows: list[SummaryRow], *, title: str) -> None:
    """Print the summary table."""
    console.print(render(rows, title=title))
