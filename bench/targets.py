"""Issue 7's targets, each judged from figures of the same run: met, MISSED, or not measured.

The tunnel's latency targets have their own table (:mod:`bench.tunnel_report`); this one holds
the data-path, orchestration and memory targets. A missed target is a finding, not an error:
it does not change the exit status, which only reports failed or mismatched copies.
"""

from __future__ import annotations

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from bench.agent_memory import AgentMemory
from bench.orchestrated import TEMPORAL_SYSTEMS
from bench.report import RunRecord, SummaryRow

KIB = 1024


class Verdict(BaseModel):
    """One target and what this run measured for it."""

    target: str
    measured: str
    verdict: str
    """``met``, ``MISSED`` or ``not measured``."""


def _check(target: str, value: float | None, *, ok: bool | None, shown: str) -> Verdict:
    if value is None or ok is None:
        return Verdict(target=target, measured="-", verdict="not measured")
    return Verdict(target=target, measured=shown, verdict="met" if ok else "MISSED")


def _row(rows: list[SummaryRow], system: str, table: str) -> SummaryRow | None:
    return next((r for r in rows if r.system == system and r.table == table), None)


def _ratio_verdicts(rows: list[SummaryRow], tables: list[str]) -> list[Verdict]:
    found = []
    for table in tables:
        if table.endswith("(MariaDB)"):
            row = _row(rows, "p311", table)
            vs = row.ratio_dlt if row else None
            found.append(
                _check(
                    f"ours (3.1.1) on {table} >= 2x dlt",
                    vs,
                    ok=vs is not None and vs >= 2,
                    shown=f"{vs or 0:.2f}x",
                )
            )
            continue
        for system, label, floor in (
            ("p311_tunnel", "3.1.1 (Temporal, agent via tunnel)", 0.65),
            ("p331_temporal", "3.3.1 (Temporal, tunnel + buffer)", 0.5),
        ):
            row = _row(rows, system, table)
            ratio = row.ratio if row else None
            vs = row.ratio_dlt if row else None
            found.append(
                _check(
                    f"{label} on {table} >= {floor}x raw pipe",
                    ratio,
                    ok=ratio is not None and ratio >= floor,
                    shown=f"{ratio or 0:.2f}x",
                )
            )
            found.append(
                _check(
                    f"{label} on {table} >= 2x dlt",
                    vs,
                    ok=vs is not None and vs >= 2,
                    shown=f"{vs or 0:.2f}x",
                )
            )
    return found


def verdicts(
    rows: list[SummaryRow], records: list[RunRecord], *, memory: list[AgentMemory], big_table: str | None
) -> list[Verdict]:
    """Every target this run can judge, in issue 7's order."""
    tables = list(dict.fromkeys(r.table for r in rows))
    found = _ratio_verdicts(rows, [t for t in tables if not t.endswith("_5m")])
    inproc, orch = _row(rows, "p311", "firenibble"), _row(rows, "p311_temporal", "firenibble")
    share = None
    if inproc and orch and inproc.median_wall_s and orch.median_wall_s:
        share = (orch.median_wall_s - inproc.median_wall_s) / orch.median_wall_s
    found.append(
        _check(
            "Temporal overhead <= 5% of the sync's wall (firenibble, vs in-process)",
            share,
            ok=share is not None and share <= 0.05,
            shown=f"{(share or 0) * 100:+.1f}%",
        )
    )
    temporal = [r for r in records if r.system in TEMPORAL_SYSTEMS and r.ok and r.extra]
    events = max((r.extra.get("history_events", 0) for r in temporal), default=None)
    payload = max((r.extra.get("largest_payload_bytes", 0) for r in temporal), default=None)
    found.append(
        _check(
            "history of one sync <= 500 events",
            events,
            ok=events is not None and events <= 500,
            shown=f"{events or 0:.0f} events",
        )
    )
    found.append(
        _check(
            "every history payload <= 64 KiB",
            payload,
            ok=payload is not None and payload <= 64 * KIB,
            shown=f"largest {(payload or 0) / KIB:.1f} KiB",
        )
    )
    fresh = [m for m in memory if m.hash_ok and m.peak_rss_mib is not None]
    peak = max((m.peak_rss_mib or 0 for m in fresh), default=None)
    found.append(
        _check(
            "agent peak RSS <= 512 MiB (p311, p331 each in a fresh process)",
            peak,
            ok=peak is not None and peak <= 512,
            shown=f"{peak or 0:.0f} MiB",
        )
    )
    growth = None
    if big_table is not None:
        small = [m.peak_rss_mib or 0 for m in fresh if m.table == "firenibble"]
        large = [m.peak_rss_mib or 0 for m in fresh if m.table == big_table]
        if small and large:
            growth = max(large) / max(small) - 1
    found.append(
        _check(
            "agent peak RSS grows < 10% from 1M to 5M rows (--big)",
            growth,
            ok=growth is not None and growth < 0.10,
            shown=f"{(growth or 0) * 100:+.1f}%",
        )
    )
    return found


def print_verdicts(console: Console, found: list[Verdict], *, title: str) -> None:
    """Print the targets table."""
    table = Table(title=title)
    for name, justify in (("target", "left"), ("measured", "right"), ("verdict", "center")):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for v in found:
        table.add_row(v.target, v.measured, v.verdict)
    console.print(table)
