"""`make bench-smoke` end to end: every system copies both tables and every copy matches its source;
the tunnel group reports latency through the gateway and direct, and the gateway's memory per agent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.run import SYSTEMS

ROOT = Path(__file__).resolve().parents[2]
LABELS = (
    "raw binary COPY pipe (psql)",
    "psycopg COPY binary passthrough",
    "3.1.1 in-process",
    "3.3.1 via encrypted buffer",
    "3.1.1 Temporal workflow",
)


def test_smoke_bench_copies_every_table_with_every_system_and_hashes_match(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--results-dir", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [jsonl] = tmp_path.glob("*.jsonl")
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert {(r["system"], r["table"]) for r in records} == {
        (s, t) for s in SYSTEMS for t in ("order_lines", "firenibble")
    }
    for r in records:
        assert r["error"] is None, r
        assert r["hash_ok"] and r["dst_rows"] == r["rows"] > 0, r
    table = proc.stdout
    for label in LABELS:
        assert table.count(label) == 2, f"{label!r} missing from the summary:\n{table}"
    assert "NO" not in table.split()
    [tunnel_json] = tmp_path.glob("*-tunnel.json")
    tunnel = json.loads(tunnel_json.read_text())
    assert tunnel["idle_agents"] == 20 and tunnel["rss_after_mib"] > 0, tunnel
    for key in ("activity_direct", "activity_gateway", "unary_direct", "unary_gateway"):
        assert tunnel[key]["n"] > 0 and tunnel[key]["p50_ms"] > 0, tunnel
    for measure in ("sequential activity round trip (20 x 2)", "unary GetSystemInfo"):
        assert table.count(measure) == 2, f"{measure!r} missing from the tunnel table:\n{table}"
    assert "MiB per agent" in table
