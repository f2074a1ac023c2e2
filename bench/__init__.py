"""Benchmarks of the data path against the physical limit, measured and verified in one run.

``python -m bench.run`` (``make bench``) copies two deterministic PostgreSQL tables with a raw
binary COPY pipe, a psycopg passthrough, and our Pattern 3.1.1 and 3.3.1 data paths (in-process
and through the real Temporal workflow), checks row count and content hash after every run,
and reports each system's throughput as a ratio to the raw pipe of the same run; its tunnel
group measures the agent gateway against direct gRPC in the same run (``bench.tunnel``). See
``docs/performance.md``. The runner (``bench.run``) is not re-exported here, so
``python -m bench.run`` does not import itself twice.
"""

from bench.data import SourceTable, load_firenibble, prepare_source
from bench.orchestrated import Orchestrated
from bench.pg import Databases, Parity, binary_copy_bytes, copy_schema, parity
from bench.report import RunRecord, SummaryRow, render, summarise
from bench.systems import System, Target, pattern_311, pattern_331, psycopg_passthrough, raw_binary_pipe
from bench.tunnel import Latency, TunnelReport, rss_mib, run_tunnel_bench
from bench.tunnel_report import render_tunnel

__all__ = [
    # source data
    "prepare_source",
    "load_firenibble",
    "SourceTable",
    # systems under test
    "System",
    "Target",
    "raw_binary_pipe",
    "psycopg_passthrough",
    "pattern_311",
    "pattern_331",
    "Orchestrated",
    # databases and parity
    "Databases",
    "copy_schema",
    "parity",
    "Parity",
    "binary_copy_bytes",
    # results
    "RunRecord",
    "SummaryRow",
    "summarise",
    "render",
    # tunnel group
    "run_tunnel_bench",
    "TunnelReport",
    "Latency",
    "rss_mib",
    "render_tunnel",
]
