"""The tunnel group's table: gateway against direct gRPC from the same run, with met/missed targets."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from bench.tunnel import P50_BUDGET_MS, P99_BUDGET_MS, UNARY_P50_BUDGET_MS, Latency, TunnelReport
from bench.tunnel_load import THROUGHPUT_RATIO_TARGET, Throughput


def _row(
    table: Table, *, label: str, stat: str, direct: Latency, gateway: Latency, budget: float | None
) -> None:
    d, g = getattr(direct, f"{stat}_ms"), getattr(gateway, f"{stat}_ms")
    verdict = "-" if budget is None else ("met" if g - d <= budget else "MISSED")
    target = "-" if budget is None else f"<= direct + {budget:g} ms"
    table.add_row(
        label, stat, f"{d:.2f}", f"{g:.2f}", f"{g - d:+.2f}", f"{g / d:.2f}", str(gateway.n), target, verdict
    )


def render_tunnel(report: TunnelReport, *, title: str) -> Table:
    """Latency rows (direct, gateway, delta, ratio, target verdict) and the memory row."""
    table = Table(title=title)
    for name, justify in (
        ("measure", "left"),
        ("stat", "left"),
        ("direct ms", "right"),
        ("gateway ms", "right"),
        ("delta ms", "right"),
        ("ratio", "right"),
        ("n", "right"),
        ("target", "left"),
        ("verdict", "center"),
    ):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    activity = f"sequential activity round trip ({report.sizes.activities} x 2)"
    _row(
        table,
        label=activity,
        stat="p50",
        direct=report.activity_direct,
        gateway=report.activity_gateway,
        budget=P50_BUDGET_MS,
    )
    _row(
        table,
        label=activity,
        stat="p99",
        direct=report.activity_direct,
        gateway=report.activity_gateway,
        budget=P99_BUDGET_MS,
    )
    unary = "unary GetSystemInfo"
    _row(
        table,
        label=unary,
        stat="p50",
        direct=report.unary_direct,
        gateway=report.unary_gateway,
        budget=UNARY_P50_BUDGET_MS,
    )
    _row(
        table, label=unary, stat="p99", direct=report.unary_direct, gateway=report.unary_gateway, budget=None
    )
    table.caption = (
        f"gateway RSS with {report.sizes.idle_agents} idle agents: {report.rss_before_mib:.1f} -> "
        f"{report.rss_after_mib:.1f} MiB, {report.mib_per_agent:.3f} MiB per agent"
    )
    return table


def render_throughput(report: TunnelReport, *, title: str) -> Table:
    """Work per second direct and through the gateway, with the O2 ratio verdict."""
    table = Table(title=title)
    for name, justify in (
        ("measure", "left"),
        ("direct /s", "right"),
        ("gateway /s", "right"),
        ("ratio", "right"),
        ("rounds", "right"),
        ("target", "left"),
        ("verdict", "center"),
    ):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    rows: tuple[tuple[str, Throughput, Throughput], ...] = (
        (
            f"activities, {report.load_direct.fanout.count:,} at {report.sizes.in_flight} in flight",
            report.load_direct.fanout,
            report.load_gateway.fanout,
        ),
        (
            f"workflows, {report.load_direct.workflows.count:,} started together",
            report.load_direct.workflows,
            report.load_gateway.workflows,
        ),
    )
    for label, direct, gateway in rows:
        ratio = gateway.per_second / direct.per_second
        table.add_row(
            label,
            f"{direct.per_second:,.1f}",
            f"{gateway.per_second:,.1f}",
            f"{ratio:.2f}",
            str(len(gateway.seconds)),
            f">= {THROUGHPUT_RATIO_TARGET:g}x direct",
            "met" if ratio >= THROUGHPUT_RATIO_TARGET else "MISSED",
        )
    return table


def print_tunnel(
    console: Console, report: TunnelReport, *, title: str = "tunnel: gateway vs direct gRPC"
) -> None:
    """Print the tunnel table."""
    console.print(render_tunnel(report, title=title))
    console.print(render_throughput(report, title=f"{title}: throughput"))
