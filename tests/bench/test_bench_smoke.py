"""`make bench-smoke` end to end: every system copies both tables and every copy matches its source,
with CPU and peak RSS measured; our 3.1.1 path copies the MariaDB table; pgloader runs or is reported
as not installed (the smoke run installs nothing); the targets table is printed; the tunnel group
reports latency and throughput (fan-out, many workflows) through the gateway and direct, and the
gateway's memory per agent; the transport group has a row per (transport, TLS)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.run import SYSTEMS

ROOT = Path(__file__).resolve().parents[2]
LABELS = (
    "raw binary COPY pipe (psql)",
    "psycopg COPY binary passthrough",
    "3.1.1 in-process",
    "3.3.1 via encrypted buffer",
    "3.1.1 Temporal, agent direct",
    "3.1.1 Temporal, agent via tunnel",
    "3.3.1 Temporal, tunnel + buffer",
)


def test_smoke_bench_copies_every_table_with_every_system_and_hashes_match(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--smoke",
            "--results-dir",
            str(tmp_path),
            # the SDK build is timed by `make bench`; here the tests' build cache spares ~10 s
            "--wasm-build-cache",
            str(Path(tempfile.gettempdir()) / "vsc-sdk-build-cache"),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [jsonl] = tmp_path.glob("*.jsonl")
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    ours = [r for r in records if r["system"] in SYSTEMS and r["table"] != "firenibble (MariaDB)"]
    assert {(r["system"], r["table"]) for r in ours} == {
        (s, t) for s in SYSTEMS for t in ("order_lines", "firenibble")
    }
    for r in ours:
        assert r["error"] is None, r
        assert r["hash_ok"] and r["dst_rows"] == r["rows"] > 0, r
        assert r["client_cpu_s"] > 0 and r["db_cpu_s"] >= 0 and r["peak_rss_mib"] > 0, r
    [mariadb] = [r for r in records if r["table"] == "firenibble (MariaDB)"]
    assert mariadb["system"] == "p311" and mariadb["hash_ok"] and mariadb["dst_rows"] == 20_000, mariadb
    loader = [r for r in records if r["system"] == "pgloader"]
    assert len(loader) == 2, records
    for r in loader:  # the smoke run never installs: pgloader either ran and matched, or says why not
        assert (r["hash_ok"] and r["error"] is None) or (r["skipped"] and "not installed" in r["error"]), r
    [memory_json] = tmp_path.glob("*-agent-memory.json")
    memory = json.loads(memory_json.read_text())
    assert {m["system"] for m in memory} == {"p311", "p331_buffer"}, memory
    assert all(m["hash_ok"] and m["peak_rss_mib"] > 0 and m["table"] == "firenibble" for m in memory), memory
    temporal = [r for r in ours if r["system"] in ("p311_temporal", "p311_tunnel", "p331_temporal")]
    assert len(temporal) == 6, temporal
    for r in temporal:
        assert r["extra"]["history_events"] > 0 and r["extra"]["largest_payload_bytes"] > 0, r
    table = proc.stdout
    for label in LABELS:
        expected = 3 if label == "3.1.1 in-process" else 2  # 3.1.1 also copies the MariaDB table
        assert table.count(label) == expected, f"{label!r} missing from the summary:\n{table}"
    assert "NO" not in table.split()
    assert "targets (issue 7)" in table and "history of one sync <= 500 events" in table
    [tunnel_json] = tmp_path.glob("*-tunnel.json")
    tunnel = json.loads(tunnel_json.read_text())
    assert tunnel["sizes"]["idle_agents"] == 20 and tunnel["rss_after_mib"] > 0, tunnel
    for key in ("activity_direct", "activity_gateway", "unary_direct", "unary_gateway"):
        assert tunnel[key]["n"] > 0 and tunnel[key]["p50_ms"] > 0, tunnel
    for measure in ("sequential activity round trip (20 x 2)", "unary GetSystemInfo"):
        assert table.count(measure) == 2, f"{measure!r} missing from the tunnel table:\n{table}"
    assert "MiB per agent" in table
    for key, count in (("fanout", 50), ("workflows", 10)):
        for way in ("direct", "gateway"):
            figure = tunnel[f"load_{way}"][key]
            assert figure["count"] == count and len(figure["seconds"]) == 2, tunnel
            assert all(s > 0 for s in figure["seconds"]), tunnel
    for measure in ("activities, 50 at 10 in flight", "workflows, 10 started together"):
        assert measure in table, f"{measure!r} missing from the tunnel throughput table:\n{table}"
    [transport_json] = tmp_path.glob("*-transport.json")
    transport = json.loads(transport_json.read_text())
    assert (transport["messages"], transport["megabytes"]) == (50, 4), transport
    assert {(r["transport"], r["tls"]) for r in transport["rows"]} == {
        (t, tls) for t in ("raw TCP", "websockets", "tunnel") for tls in (False, True)
    }, transport
    assert all(r["one_way_mib_s"] > 0 and r["echo"]["n"] == 50 for r in transport["rows"]), transport
    assert "transport, tunnel vs its wire" in table, table
    [wasm_json] = tmp_path.glob("*-wasm.json")
    wasm = json.loads(wasm_json.read_text())
    assert wasm["calls"] == 50 and wasm["wasm_p50_ms"] > 0 and wasm["direct_p50_ms"] > 0, wasm
    assert wasm["cold_load_ms"] > 0 and wasm["component_mb"] > 1, wasm
    for measure in ("SDK call p50 (50 calls)", "cold load of a cached SDK", "build one SDK"):
        assert measure in table, f"{measure!r} missing from the wasm table:\n{table}"
