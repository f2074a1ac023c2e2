"""The transport group's table: one row per (transport, TLS), the tunnel's ratios to plain websockets."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from bench.transport import TRANSPORTS, TransportReport
from console_api.gateway.session import MAX_PENDING_REQUESTS


def render_transport(report: TransportReport, *, title: str) -> Table:
    """Figures of every row; the tunnel rows also show their ratio to websockets with the same TLS."""
    table = Table(title=title)
    for name in (
        "transport",
        "TLS",
        "echo p50 ms",
        "echo p99 ms",
        "MiB/s one way",
        "MiB/s back",
        "small msgs/s",
        "tunnel / websockets (p50, p99, one way, small)",
    ):
        table.add_column(name, justify="left" if name in ("transport", "TLS") else "right", no_wrap=True)
    for transport in TRANSPORTS:
        for tls in (False, True):
            row = report.row(transport, tls=tls)
            ratios = "-"
            if transport == "tunnel":
                r = report.tunnel_ratios(tls=tls)
                ratios = f"{r['echo_p50']:.1f}x  {r['echo_p99']:.1f}x  {r['one_way']:.2f}x  {r['small']:.2f}x"
            table.add_row(
                transport,
                "on" if tls else "off",
                f"{row.echo.p50_ms:.3f}",
                f"{row.echo.p99_ms:.3f}",
                f"{row.one_way_mib_s:,.0f}",
                "-" if row.back_mib_s is None else f"{row.back_mib_s:,.0f}",
                f"{row.small_per_s:,.0f}",
                ratios,
            )
    table.caption = (
        f"{report.messages} x 1 KiB echoes after warm-up, {report.megabytes} MiB one way, "
        f"{report.messages * 10} small messages. Tunnel: echo = 1 KiB obj.get (gateway authorization "
        "+ file read), one way = buffer upload (GatewayBackend, parts of one frame, each acknowledged), "
        f"back = obj.get download, small = 64-byte obj.get, {MAX_PENDING_REQUESTS} in flight"
    )
    return table


def print_transport(
    console: Console, report: TransportReport, *, title: str = "transport: tunnel vs its wire"
) -> None:
    """Print the transport table."""
    console.print(render_transport(report, title=title))
