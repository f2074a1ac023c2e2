"""``make bench`` / ``make bench-smoke``: time every system on both tables and check every copy.

Usage: ``python -m bench.run [--smoke] [--scale 5] [--rows 1000000] [--reps 3] [--systems a,b]
[--groups copy,tunnel] [--activities 300] [--idle-agents 200]``.
Progress goes to stderr, the summary tables to stdout, one JSON line per copy run to
``bench/results/<timestamp>.jsonl`` and the tunnel group's figures to ``<timestamp>-tunnel.json``.
The exit status is 1 if any run failed or any destination differed from its source; a missed
tunnel target is reported in its table, not in the exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel
from rich.console import Console

from bench.data import SourceTable, prepare_source
from bench.orchestrated import Orchestrated
from bench.pg import Databases, checkpoint, copy_schema, parity, run_sql
from bench.report import RunRecord, append_jsonl, print_summary, summarise
from bench.systems import System, Target, pattern_311, pattern_331, psycopg_passthrough, raw_binary_pipe
from bench.tunnel import run_tunnel_bench
from bench.tunnel_report import print_tunnel

RESULTS = Path(__file__).resolve().parent / "results"
SYSTEMS = ("raw_pipe", "psycopg_copy", "p311", "p331_buffer", "p311_temporal")
GROUPS = ("copy", "tunnel")


class BenchOptions(BaseModel):
    """What one benchmark run does."""

    scale: float
    rows: int
    reps: int
    systems: tuple[str, ...]
    groups: tuple[str, ...] = GROUPS
    activities: int = 300
    idle_agents: int = 200
    results_dir: Path
    temporal: Path


def parse_args(argv: Sequence[str] | None) -> BenchOptions:
    """Command-line options; ``--smoke`` only changes the defaults of scale, rows and reps."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny data, one repetition (make bench-smoke)")
    parser.add_argument(
        "--scale", type=float, help="van-sales scale; 1.0 is about 100k order lines (default 5)"
    )
    parser.add_argument("--rows", type=int, help="firenibble rows (default 1,000,000)")
    parser.add_argument("--reps", type=int, help="repetitions per system, order rotated (default 3)")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma list of {', '.join(SYSTEMS)}")
    parser.add_argument("--groups", default=",".join(GROUPS), help=f"comma list of {', '.join(GROUPS)}")
    parser.add_argument(
        "--activities", type=int, help="tunnel: sequential activities per round (default 300)"
    )
    parser.add_argument(
        "--idle-agents", type=int, help="tunnel: idle agent sessions for memory (default 200)"
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--temporal", type=Path, default=Path(sys.executable).parent / "temporal")
    args = parser.parse_args(argv)
    systems = tuple(s.strip() for s in args.systems.split(",") if s.strip())
    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown or not systems:
        parser.error(f"unknown systems {unknown}; choose from {', '.join(SYSTEMS)}")
    groups = tuple(g.strip() for g in args.groups.split(",") if g.strip())
    if set(groups) - set(GROUPS) or not groups:
        parser.error(f"unknown groups {sorted(set(groups) - set(GROUPS))}; choose from {', '.join(GROUPS)}")
    return BenchOptions(
        scale=args.scale if args.scale is not None else (0.05 if args.smoke else 5.0),
        rows=args.rows if args.rows is not None else (20_000 if args.smoke else 1_000_000),
        reps=args.reps if args.reps is not None else (1 if args.smoke else 3),
        systems=systems,
        groups=groups,
        activities=args.activities if args.activities is not None else (20 if args.smoke else 300),
        idle_agents=args.idle_agents if args.idle_agents is not None else (20 if args.smoke else 200),
        results_dir=args.results_dir,
        temporal=args.temporal,
    )


def threaded(fn: Callable[[Target], None]) -> Callable[[Target], Awaitable[None]]:
    """Run a blocking system in a thread so the in-process Temporal workers keep being served."""

    async def run(target: Target) -> None:
        await asyncio.to_thread(fn, target)

    return run


def rotated(systems: list[System], rep: int) -> list[System]:
    """Repetition ``rep`` starts with a different system, so none always runs on a cold or warm cache."""
    shift = rep % len(systems)
    return systems[shift:] + systems[:shift]


class Bench:
    """One benchmark: a source database, the systems, and the records of every run."""

    def __init__(
        self,
        *,
        options: BenchOptions,
        dbs: Databases,
        src_url: str,
        log: Console,
        bench_id: str | None = None,
    ) -> None:
        self.options = options
        self.dbs = dbs
        self.src_url = src_url
        self.log = log
        self.bench_id = bench_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.jsonl = options.results_dir / f"{self.bench_id}.jsonl"
        self.records: list[RunRecord] = []
        self.postgres = str(run_sql(src_url, "SHOW server_version")[0][0])

    async def measure(
        self, *, system: System, source: SourceTable, rep: int, position: int, work: Path
    ) -> None:
        """Copy ``source`` with ``system`` into a fresh database, time it, check it, drop the database."""
        dst_url = self.dbs.create("dst")
        wall: float | None = None
        dst_rows: int | None = None
        hash_ok, error = False, None
        try:
            copy_schema(src_url=self.src_url, dst_url=dst_url, table=source.table)
            checkpoint()
            target = Target(src_url=self.src_url, dst_url=dst_url, table=source.table, workdir=work)
            started = time.perf_counter()
            await system.run(target)
            wall = time.perf_counter() - started
            found = parity(dst_url, table=source.table, key=source.key)
            dst_rows, hash_ok = found.rows, (found.rows, found.md5) == (source.rows, source.md5)
        except Exception as exc:  # a failed run is a result, not the end of the benchmark
            error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        finally:
            self.dbs.drop(dst_url)
        record = RunRecord(
            bench_id=self.bench_id,
            system=system.name,
            label=system.label,
            table=source.table,
            rep=rep,
            position=position,
            rows=source.rows,
            binary_bytes=source.binary_bytes,
            wall_s=wall,
            dst_rows=dst_rows,
            hash_ok=hash_ok,
            error=error,
            postgres=self.postgres,
            python=platform.python_version(),
        )
        self.records.append(record)
        append_jsonl(self.jsonl, record)
        status = "ok" if record.ok else f"FAILED {error or f'destination differs ({dst_rows} rows)'}"
        shown = "-" if wall is None else f"{wall:.2f} s"
        self.log.log(f"rep {rep + 1} {source.table} {system.label}: {shown} {status}")

    async def run_all(self, *, systems: list[System], sources: list[SourceTable], scratch: Path) -> None:
        """Every repetition, table and system, in rotated order."""
        for rep in range(self.options.reps):
            for source in sources:
                for position, system in enumerate(rotated(systems, rep)):
                    work = scratch / f"{rep}-{source.table}-{system.name}"
                    work.mkdir()
                    await self.measure(system=system, source=source, rep=rep, position=position, work=work)


def build_systems(names: tuple[str, ...], orchestrated: Orchestrated | None) -> list[System]:
    """The selected systems, raw pipe first (it is every ratio's baseline)."""
    available = {
        "raw_pipe": System(
            name="raw_pipe", label="raw binary COPY pipe (psql)", run=threaded(raw_binary_pipe)
        ),
        "psycopg_copy": System(
            name="psycopg_copy", label="psycopg COPY binary passthrough", run=threaded(psycopg_passthrough)
        ),
        "p311": System(name="p311", label="3.1.1 in-process", run=threaded(pattern_311)),
        "p331_buffer": System(
            name="p331_buffer", label="3.3.1 via encrypted buffer", run=threaded(pattern_331)
        ),
    }
    if orchestrated is not None:
        available["p311_temporal"] = System(
            name="p311_temporal", label="3.1.1 Temporal workflow", run=orchestrated.run
        )
    return [available[name] for name in SYSTEMS if name in names]


async def copy_group(options: BenchOptions, *, out: Console, log: Console, bench_id: str) -> list[RunRecord]:
    """Prepare the source, run every system, print the summary; databases are dropped on any exit."""
    with Databases() as dbs, tempfile.TemporaryDirectory(prefix="vsc-bench-") as tmp:
        scratch = Path(tmp)
        src_url = dbs.create("src")
        log.log(f"preparing source: order_lines at scale {options.scale}, firenibble {options.rows:,} rows")
        sources = prepare_source(src_url, scale=options.scale, rows=options.rows)
        for s in sources:
            log.log(f"{s.table}: {s.rows:,} rows, {s.binary_bytes / 1e6:.1f} MB as binary COPY")
        runner = Bench(options=options, dbs=dbs, src_url=src_url, log=log, bench_id=bench_id)
        if "p311_temporal" in options.systems:
            (scratch / "temporal").mkdir()
            async with Orchestrated(temporal_binary=options.temporal, home=scratch / "temporal") as orch:
                await runner.run_all(
                    systems=build_systems(options.systems, orch), sources=sources, scratch=scratch
                )
        else:
            await runner.run_all(
                systems=build_systems(options.systems, None), sources=sources, scratch=scratch
            )
    title = f"bench {runner.bench_id}: PostgreSQL {runner.postgres}, {options.reps} rep(s), median wall"
    print_summary(out, summarise(runner.records), title=title)
    log.log(f"runs written to {runner.jsonl}")
    return runner.records


async def tunnel_group(options: BenchOptions, *, out: Console, log: Console, bench_id: str) -> bool:
    """Measure the gateway against direct gRPC, print its table, write its JSON; False if it failed."""
    log.log(
        f"tunnel: {options.activities} sequential activities x 2 rounds, {options.idle_agents} idle agents"
    )
    try:
        report = await run_tunnel_bench(
            activities=options.activities, idle_agents=options.idle_agents, temporal=options.temporal
        )
    except Exception as exc:  # a failed group is a result: the other group's table still prints
        log.log(f"tunnel group FAILED: {type(exc).__name__}: {exc}")
        return False
    print_tunnel(out, report, title=f"bench {bench_id}: tunnel, gateway vs direct gRPC (same run)")
    path = options.results_dir / f"{bench_id}-tunnel.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.model_dump_json(indent=2) + "\n")
    log.log(f"tunnel figures written to {path}")
    return True


async def bench(options: BenchOptions, *, out: Console, log: Console) -> bool:
    """Run the selected groups; True only if every run finished and every copy matched its source."""
    bench_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    ok = True
    if "copy" in options.groups:
        records = await copy_group(options, out=out, log=log, bench_id=bench_id)
        ok = bool(records) and all(r.ok for r in records)
    if "tunnel" in options.groups:
        ok = await tunnel_group(options, out=out, log=log, bench_id=bench_id) and ok
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 only if every run finished and every destination matched its source."""
    options = parse_args(argv)
    ok = asyncio.run(
        bench(options, out=Console(width=None if sys.stdout.isatty() else 160), log=Console(stderr=True))
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
