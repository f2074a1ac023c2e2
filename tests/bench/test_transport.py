"""The transport group: every (transport, TLS) row measured, corruption caught, untrusted TLS refused."""

from __future__ import annotations

import math
import ssl
from pathlib import Path

import pytest
from rich.console import Console

from bench.run import parse_args
from bench.transport import TRANSPORTS, CorruptionError, check_same, run_transport_bench, wire_server
from bench.transport_report import render_transport
from bench.transport_wire import client_context, raw_figures, ws_figures
from infra.loopback_tls import self_signed


async def test_transport_bench_reports_every_row_with_positive_finite_figures() -> None:
    report = await run_transport_bench(messages=20, megabytes=2)
    assert {(r.transport, r.tls) for r in report.rows} == {
        (t, tls) for t in TRANSPORTS for tls in (False, True)
    }
    for row in report.rows:
        figures = [row.echo.p50_ms, row.echo.p99_ms, row.one_way_mib_s, row.small_per_s]
        assert all(math.isfinite(f) and f > 0 for f in figures), row
        assert row.echo.n == 20 and row.echo.p99_ms >= row.echo.p50_ms, row
        assert (row.back_mib_s is not None) == (row.transport == "tunnel"), row
    for tls in (False, True):
        back = report.row("tunnel", tls=tls).back_mib_s
        assert back is not None and math.isfinite(back) and back > 0
        assert all(math.isfinite(r) and r > 0 for r in report.tunnel_ratios(tls=tls).values())
    console = Console(width=250, record=True)
    console.print(render_transport(report, title="t"))
    text = console.export_text()
    assert text.count("tunnel ") >= 2 and text.count("websockets") >= 2 and text.count("raw TCP") == 2


def test_check_same_passes_equal_bytes_split_differently_and_catches_corruption() -> None:
    data = bytes(range(256)) * 64
    check_same([data], [data[:100], data[100:]], what="split")
    flipped = bytearray(data)
    flipped[4000] ^= 1
    with pytest.raises(CorruptionError, match="flipped"):
        check_same([data], [bytes(flipped)], what="flipped")
    with pytest.raises(CorruptionError):
        check_same([b"ab", b"cd"], [b"cd", b"ab"], what="reordered")
    with pytest.raises(CorruptionError):
        check_same([data], [data[:-1]], what="short")


async def test_tls_clients_refuse_a_server_whose_certificate_they_do_not_trust(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path, name="server")
    other, _ = self_signed(tmp_path, name="other")
    async with wire_server(cert=cert, key=key) as ports:
        with pytest.raises(ssl.SSLCertVerificationError):
            await raw_figures(ports["raw_tls"], tls=client_context(other), messages=1, megabytes=1)
        with pytest.raises(ssl.SSLCertVerificationError):
            await ws_figures(ports["ws_tls"], tls=client_context(other), messages=1, megabytes=1)
        trusted = await raw_figures(ports["raw_tls"], tls=client_context(cert), messages=1, megabytes=1)
        assert trusted.one_way_mib_s > 0


def test_transport_is_a_default_group_with_small_smoke_sizes() -> None:
    smoke = parse_args(["--smoke"])
    assert "transport" in smoke.groups
    assert (smoke.transport_messages, smoke.transport_megabytes) == (50, 4)
    full = parse_args(["--transport-messages", "7", "--transport-megabytes", "3"])
    assert (full.transport_messages, full.transport_megabytes) == (7, 3)
