"""Databases are always dropped, and the parity check catches a destination that differs."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from bench.data import describe, load_firenibble
from bench.pg import ADMIN_URL, Databases, run_sql
from bench.run import Bench, BenchOptions, threaded
from bench.systems import System, Target, raw_binary_pipe


def exists(url: str) -> bool:
    name = url.rsplit("/", 1)[1]
    return bool(run_sql(ADMIN_URL, "SELECT 1 FROM pg_database WHERE datname = %s", [name]))


def test_databases_are_dropped_even_when_the_body_fails() -> None:
    made: list[str] = []
    with pytest.raises(RuntimeError), Databases() as dbs:
        made += [dbs.create("a"), dbs.create("b")]
        assert all(exists(u) for u in made)
        raise RuntimeError("boom")
    assert made and not any(exists(u) for u in made)


def lossy(target: Target) -> None:
    raw_binary_pipe(target)
    run_sql(target.dst_url, "UPDATE firenibble SET f11 = f11 || 'x' WHERE f0 = 7")


async def test_a_copy_that_changes_one_value_is_recorded_as_failed(tmp_path: Path) -> None:
    options = BenchOptions(
        scale=0, rows=50, reps=1, systems=("raw_pipe",), results_dir=tmp_path, temporal=tmp_path
    )
    with Databases() as dbs:
        src = dbs.create("src")
        load_firenibble(src, rows=50)
        source = describe(src, "firenibble")
        bench = Bench(options=options, dbs=dbs, src_url=src, log=Console(quiet=True))
        good = System(name="raw_pipe", label="raw", run=threaded(raw_binary_pipe))
        bad = System(name="lossy", label="lossy", run=threaded(lossy))
        for system in (good, bad):
            work = tmp_path / system.name
            work.mkdir()
            await bench.measure(system=system, source=source, rep=0, position=0, work=work)
        assert dbs.created == [src.rsplit("/", 1)[1]]  # every destination was dropped already
    ok, failed = bench.records
    assert ok.ok and ok.dst_rows == 50
    assert not failed.ok and failed.dst_rows == 50 and failed.error is None
