"""The resource meter counts a child's CPU and RSS and the run's database backends, nobody else's."""

from __future__ import annotations

import sys
from pathlib import Path

import psycopg

from bench import procs
from bench.pg import Databases
from bench.resources import ResourceMeter

# burns 0.3 s of its own CPU (whatever the load) while holding about 64 MiB
CHILD = "import time\nheld = b'x' * (64 << 20)\nwhile time.process_time() < 0.3: pass\n"
BUSY_SQL = "SELECT sum(i) FROM generate_series(1, 3000000) AS i"


def test_a_child_process_cpu_and_peak_rss_count_as_the_tools(tmp_path: Path) -> None:
    with Databases() as dbs:
        db = dbs.create("meter")
        meter = ResourceMeter(databases=[db.rsplit("/", 1)[1]], in_process=False)
        with meter:
            procs.check(procs.run([sys.executable, "-c", CHILD], logdir=tmp_path), what="child")
    assert meter.result is not None
    assert meter.result.client_cpu_s >= 0.3
    assert meter.result.peak_rss_mib is not None and meter.result.peak_rss_mib >= 60
    assert meter.result.db_cpu_s == 0  # nothing touched the run's database


def test_backends_of_the_runs_databases_count_and_other_databases_do_not() -> None:
    with Databases() as dbs:
        mine, other = dbs.create("meter"), dbs.create("other")
        meter = ResourceMeter(databases=[mine.rsplit("/", 1)[1]], in_process=True)
        with meter:
            with psycopg.connect(other) as conn:
                conn.execute(BUSY_SQL)
        idle = meter.result
        meter = ResourceMeter(databases=[mine.rsplit("/", 1)[1]], in_process=True)
        with meter:
            with psycopg.connect(mine) as conn:
                conn.execute(BUSY_SQL)
        busy = meter.result
    assert idle is not None and busy is not None
    assert idle.db_cpu_s == 0
    assert busy.db_cpu_s > 0
    assert busy.peak_rss_mib is not None and busy.peak_rss_mib > 0
