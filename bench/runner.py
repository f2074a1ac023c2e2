"""The copy groups: prepare the sources, run every system in rotated order, check and measure each run.

A run gets a fresh destination database (dropped afterwards, whatever happened), the source's
DDL unless the system makes its own, a ``CHECKPOINT``, and a :class:`ResourceMeter` around the
timed part; afterwards the destination is verified by row count and type-cast content hash.
The PostgreSQL tables go through every selected system; the MariaDB copy of ``firenibble``
(group ``mariadb``) through our 3.1.1 path and dlt, the pair issue 7 compares.
"""

from __future__ import annotations

import asyncio
import platform
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel
from rich.console import Console

from bench import agent_memory
from bench.agent_memory import AgentMemory
from bench.data import BIG_TABLE, SourceTable, prepare_source
from bench.mariadb import mariadb_source
from bench.orchestrated import TEMPORAL_SYSTEMS, Orchestrated
from bench.peers import LABELS, prepare_peers
from bench.pg import Databases, checkpoint, copy_schema, parity, run_sql
from bench.report import RunRecord, append_jsonl, print_summary, summarise
from bench.resources import ResourceMeter
from bench.systems import System, Target, pattern_311, pattern_331, psycopg_passthrough, raw_binary_pipe
from bench.targets import print_verdicts, verdicts
from bench.tunnel import TunnelSizes

SYSTEMS = ("raw_pipe", "psycopg_copy", "p311", "p331_buffer", "p311_temporal", "p311_tunnel", "p331_temporal")

GROUPS = ("copy", "mariadb", "tunnel", "transport", "wasm")
BIG_ROWS = 5_000_000


class BenchOptions(BaseModel):
    """What one benchmark run does."""

    scale: float
    rows: int
    reps: int
    systems: tuple[str, ...]
    peers: tuple[str, ...] = ()
    install_peers: bool = False
    big: bool = False
    groups: tuple[str, ...] = GROUPS
    tunnel: TunnelSizes = TunnelSizes()
    transport_messages: int = 2000
    transport_megabytes: int = 256
    wasm_calls: int = 1000
    wasm_build_cache: Path | None = None
    results_dir: Path
    temporal: Path


def threaded(fn: Callable[[Target], None]) -> Callable[[Target], Awaitable[None]]:
    """Run a blocking system in a thread so the in-process Temporal workers keep being served."""

    async def run(target: Target) -> None:
        await asyncio.to_thread(fn, target)

    return run


def rotated(systems: list[System], rep: int) -> list[System]:
    """Repetition ``rep`` starts with a different system, so none always runs on a cold or warm cache."""
    shift = rep % len(systems)
    return systems[shift:] + systems[:shift]


def _db_name(url: str) -> str:
    return url.rsplit("/", 1)[1]


class Bench:
    """One benchmark: the source databases, the systems, and the records of every run."""

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

    def _record(self, record: RunRecord) -> None:
        self.records.append(record)
        append_jsonl(self.jsonl, record)

    def skipped(self, *, name: str, label: str, source: SourceTable, reason: str) -> None:
        """Record that a peer did not run on ``source`` because it is not installed."""
        self._record(
            RunRecord(
                bench_id=self.bench_id, system=name, label=label, table=source.name, rep=0, position=0,
                rows=source.rows, binary_bytes=source.binary_bytes, wall_s=None, dst_rows=None,
                hash_ok=False, error=reason, skipped=True, postgres=self.postgres,
                python=platform.python_version(),
            )
        )  # fmt: skip

    async def measure(
        self, *, system: System, source: SourceTable, rep: int, position: int, work: Path
    ) -> None:
        """Copy ``source`` with ``system`` into a fresh database; time, meter and check it; drop it."""
        dst_url = self.dbs.create("dst")
        wall: float | None = None
        dst_rows: int | None = None
        hash_ok, error = False, None
        meter: ResourceMeter | None = None
        extra: dict[str, float] = {}
        try:
            if not system.own_ddl:
                copy_schema(src_url=self.src_url, dst_url=dst_url, table=source.table)
            checkpoint()
            target = Target(src_url=source.src_url, dst_url=dst_url, table=source.table, workdir=work)
            databases = [_db_name(dst_url)] + (
                [_db_name(source.src_url)] if source.engine == "postgresql" else []
            )
            meter = ResourceMeter(
                databases=databases,
                helper_pids=system.helper_pids() if system.helper_pids else (),
                in_process=system.in_process,
            )
            started = time.perf_counter()
            with meter:
                await system.run(target)
            wall = time.perf_counter() - started
            if system.figures is not None:
                extra = await system.figures()
            found = parity(
                dst_url, table=source.table, key=source.key, columns=source.columns, schema=system.dest_schema
            )
            dst_rows, hash_ok = found.rows, (found.rows, found.md5) == (source.rows, source.md5)
        except Exception as exc:  # a failed run is a result, not the end of the benchmark
            error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        finally:
            self.dbs.drop(dst_url)
        used = meter.result if meter is not None else None
        record = RunRecord(
            bench_id=self.bench_id,
            system=system.name,
            label=system.label,
            table=source.name,
            rep=rep,
            position=position,
            rows=source.rows,
            binary_bytes=source.binary_bytes,
            wall_s=wall,
            dst_rows=dst_rows,
            hash_ok=hash_ok,
            error=error,
            client_cpu_s=used.client_cpu_s if used else None,
            db_cpu_s=used.db_cpu_s if used else None,
            peak_rss_mib=used.peak_rss_mib if used else None,
            extra=extra,
            postgres=self.postgres,
            python=platform.python_version(),
        )
        self._record(record)
        status = "ok" if record.ok else f"FAILED {error or f'destination differs ({dst_rows} rows)'}"
        shown = "-" if wall is None else f"{wall:.2f} s"
        self.log.log(f"rep {rep + 1} {source.name} {system.label}: {shown} {status}")

    async def run_all(self, *, plans: list[tuple[SourceTable, list[System]]], scratch: Path) -> None:
        """Every repetition, table and system, in rotated order."""
        for rep in range(self.options.reps):
            for source, systems in plans:
                for position, system in enumerate(rotated(systems, rep)):
                    work = scratch / f"{rep}-{source.name.replace(' ', '_')}-{system.name}"
                    work.mkdir()
                    await self.measure(system=system, source=source, rep=rep, position=position, work=work)


def build_systems(names: tuple[str, ...], orchestrated: Orchestrated | None) -> list[System]:
    """The selected systems of ours and the baselines, raw pipe first (it is every ratio's baseline)."""
    available = {
        "raw_pipe": System(
            name="raw_pipe",
            label="raw binary COPY pipe (psql)",
            run=threaded(raw_binary_pipe),
            in_process=False,
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
        for name, label, run, pids in (
            (
                "p311_temporal",
                "3.1.1 Temporal, agent direct",
                orchestrated.run_311_direct,
                orchestrated.server_pids,
            ),
            (
                "p311_tunnel",
                "3.1.1 Temporal, agent via tunnel",
                orchestrated.run_311_tunnel,
                orchestrated.tunnel_pids,
            ),
            (
                "p331_temporal",
                "3.3.1 Temporal, tunnel + buffer",
                orchestrated.run_331,
                orchestrated.tunnel_pids,
            ),
        ):
            available[name] = System(
                name=name, label=label, run=run, helper_pids=pids, figures=orchestrated.history_figures
            )
    return [available[name] for name in SYSTEMS if name in names]


def mariadb_systems(peers: list[System]) -> list[System]:
    """Ours from MariaDB (it creates its own PostgreSQL table) and dlt, if dlt is ready."""
    ours = System(name="p311", label="3.1.1 in-process", run=threaded(pattern_311), own_ddl=True)
    return [ours, *[p for p in peers if p.name == "dlt"]]


async def _run(
    runner: Bench, options: BenchOptions, plans: list[tuple[SourceTable, list[System]]], scratch: Path
) -> None:
    wanted = tuple(n for n in TEMPORAL_SYSTEMS if n in options.systems)
    if wanted and "copy" in options.groups:
        (scratch / "temporal").mkdir()
        async with Orchestrated(temporal_binary=options.temporal, home=scratch / "temporal") as orch:
            temporal = build_systems(wanted, orch)
            for source, systems in plans:
                if source.engine == "postgresql":
                    systems.extend(temporal)
            await runner.run_all(plans=plans, scratch=scratch)
    else:
        await runner.run_all(plans=plans, scratch=scratch)


def _agent_memory(
    options: BenchOptions, *, runner: Bench, sources: list[SourceTable], scratch: Path
) -> list[AgentMemory]:
    """Our data paths once more on ``firenibble`` (and ``firenibble_5m``), each in a fresh process."""
    if "copy" not in options.groups:
        return []
    found = []
    for source in (s for s in sources if s.table in ("firenibble", BIG_TABLE)):
        for system in (s for s in agent_memory.SYSTEMS if s in options.systems):
            work = scratch / f"memory-{source.table}-{system}"
            work.mkdir()
            result = agent_memory.measure(
                system=system, source=source, dbs=runner.dbs, src_url=runner.src_url, work=work
            )
            status = "ok" if result.hash_ok else f"FAILED {result.error or 'destination differs'}"
            peak = result.peak_rss_mib or 0
            runner.log.log(f"agent memory {source.name} {system}: peak {peak:.0f} MiB {status}")
            found.append(result)
    path = options.results_dir / f"{runner.bench_id}-agent-memory.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[" + ",\n".join(m.model_dump_json() for m in found) + "]\n")
    return found


async def copy_groups(options: BenchOptions, *, out: Console, log: Console, bench_id: str) -> list[RunRecord]:
    """Prepare the sources and peers, run every plan, print the summary and targets; drop everything after."""
    peers, missing = prepare_peers(options.peers, install=options.install_peers, log=log)
    with Databases() as dbs, tempfile.TemporaryDirectory(prefix="vsc-bench-") as tmp:
        scratch = Path(tmp)
        src_url = dbs.create("src")
        big = BIG_ROWS if options.big else None
        log.log(f"preparing source: order_lines at scale {options.scale}, firenibble {options.rows:,} rows")
        sources = prepare_source(src_url, scale=options.scale, rows=options.rows, big_rows=big)
        for s in sources:
            log.log(f"{s.table}: {s.rows:,} rows, {s.binary_bytes / 1e6:.1f} MB as binary COPY")
        runner = Bench(options=options, dbs=dbs, src_url=src_url, log=log, bench_id=bench_id)
        plans: list[tuple[SourceTable, list[System]]] = []
        if "copy" in options.groups:
            ours = build_systems(tuple(n for n in options.systems if n not in TEMPORAL_SYSTEMS), None)
            for source in sources:
                extra = [] if source.table == BIG_TABLE else peers
                plans.append((source, [*ours, *extra]))
                for name in [] if source.table == BIG_TABLE else missing:
                    runner.skipped(name=name, label=LABELS[name], source=source, reason=missing[name])
        with ExitStack() as stack:
            if "mariadb" in options.groups:
                firenibble = next(s for s in sources if s.table == "firenibble")
                log.log("preparing MariaDB source: firenibble copied from PostgreSQL")
                (scratch / "mariadb").mkdir()
                my_source = stack.enter_context(
                    mariadb_source(pg_source=firenibble, workdir=scratch / "mariadb")
                )
                plans.append((my_source, mariadb_systems(peers)))
                if "dlt" in missing:
                    runner.skipped(name="dlt", label=LABELS["dlt"], source=my_source, reason=missing["dlt"])
            await _run(runner, options, plans, scratch)
        memory = _agent_memory(options, runner=runner, sources=sources, scratch=scratch)
    rows = summarise(runner.records)
    title = f"bench {runner.bench_id}: PostgreSQL {runner.postgres}, {options.reps} rep(s), median wall"
    print_summary(out, rows, title=title)
    big_table = BIG_TABLE if options.big else None
    print_verdicts(
        out,
        verdicts(rows, runner.records, memory=memory, big_table=big_table),
        title=f"bench {runner.bench_id}: targets (issue 7), same run",
    )
    log.log(f"runs written to {runner.jsonl}")
    return runner.records
