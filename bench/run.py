"""``make bench`` / ``make bench-smoke``: time every system on every table and check every copy.

Usage: ``python -m bench.run [--smoke] [--big] [--scale 5] [--rows 1000000] [--reps 3]
[--systems a,b] [--peers dlt,sling,pgloader|all|none] [--no-install]
[--groups copy,mariadb,tunnel,transport,wasm] [--activities 300] [--fanout 1000] [--in-flight 100]
[--workflows 200] [--idle-agents 200] [--transport-messages 2000] [--transport-megabytes 256]
[--wasm-calls 1000]``.
Progress goes to stderr, the summary tables to stdout, one JSON line per copy run to
``bench/results/<timestamp>.jsonl``, the tunnel, transport and wasm groups' figures to
``<timestamp>-tunnel.json``, ``<timestamp>-transport.json`` and ``<timestamp>-wasm.json``.
The exit status is 1 if any run failed or any destination differed from its source; a peer that
is not installed and a missed target are reported in the tables, not in the exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel
from rich.console import Console

from bench.peers import DEFAULT_PEERS, PEERS
from bench.runner import BIG_ROWS, GROUPS, SYSTEMS, Bench, BenchOptions, copy_groups, threaded
from bench.transport import run_transport_bench
from bench.transport_report import print_transport
from bench.tunnel import SMOKE_SIZES, TunnelSizes, run_tunnel_bench
from bench.tunnel_report import print_tunnel
from bench.wasm import print_wasm, run_wasm_bench

Report = TypeVar("Report", bound=BaseModel)
RESULTS = Path(__file__).resolve().parent / "results"
SMOKE_PEERS = ("pgloader",)
"""The smoke run (inside ``make test``) installs nothing: pgloader runs if the machine has it and
is reported as not installed otherwise; the venv peers (dlt, sling, Singer) take minutes to
install and are left to ``make bench``."""


def _names(
    parser: argparse.ArgumentParser, value: str, *, choices: tuple[str, ...], what: str
) -> tuple[str, ...]:
    if value == "all":
        return choices
    if value == "none":
        return ()
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    unknown = sorted(set(names) - set(choices))
    if unknown:
        parser.error(f"unknown {what} {unknown}; choose from {', '.join(choices)}, all or none")
    return names


def _or(value: int | None, *, smoke: bool, small: int, full: int) -> int:
    """``value`` if given, else the smoke or the full run's default."""
    if value is not None:
        return value
    return small if smoke else full


def parse_args(argv: Sequence[str] | None) -> BenchOptions:
    """Command-line options; ``--smoke`` changes the defaults of sizes, repetitions and peers."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--smoke", action="store_true", help="tiny data, one repetition, no installs (make bench-smoke)"
    )
    parser.add_argument(
        "--big", action="store_true", help=f"also a {BIG_ROWS:,}-row firenibble for memory growth"
    )
    parser.add_argument(
        "--scale", type=float, help="van-sales scale; 1.0 is about 100k order lines (default 5)"
    )
    parser.add_argument("--rows", type=int, help="firenibble rows (default 1,000,000)")
    parser.add_argument("--reps", type=int, help="repetitions per system, order rotated (default 3)")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma list of {', '.join(SYSTEMS)}")
    parser.add_argument(
        "--peers",
        help=f"comma list of {', '.join(PEERS)}, all or none (default {','.join(DEFAULT_PEERS)}; smoke: pgloader)",  # noqa: E501
    )
    parser.add_argument("--no-install", action="store_true", help="never install a peer (venvs, apt-get)")
    parser.add_argument("--groups", default=",".join(GROUPS), help=f"comma list of {', '.join(GROUPS)}")
    parser.add_argument(
        "--activities", type=int, help="tunnel: sequential activities per round (default 300)"
    )
    parser.add_argument(
        "--fanout", type=int, help="tunnel: activities of the fan-out workflow (default 1000; smoke 50)"
    )
    parser.add_argument("--in-flight", type=int, help="tunnel: fan-out activities in flight (default 100)")
    parser.add_argument(
        "--workflows", type=int, help="tunnel: one-activity workflows started together (default 200)"
    )
    parser.add_argument(
        "--transport-messages",
        type=int,
        help="transport: 1 KiB echoes per row; 10x small messages (default 2000)",
    )
    parser.add_argument(
        "--transport-megabytes", type=int, help="transport: MiB sent one way per row (default 256)"
    )
    parser.add_argument("--wasm-calls", type=int, help="wasm: SDK calls to time (default 1000)")
    parser.add_argument(
        "--wasm-build-cache", type=Path, help="wasm: reuse this SDK build cache (default: a real build)"
    )
    parser.add_argument(
        "--idle-agents", type=int, help="tunnel: idle agent sessions for memory (default 200)"
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--temporal", type=Path, default=Path(sys.executable).parent / "temporal")
    args = parser.parse_args(argv)
    systems = _names(parser, args.systems, choices=SYSTEMS, what="systems")
    groups = _names(parser, args.groups, choices=GROUPS, what="groups")
    if not systems or not groups:
        parser.error("choose at least one system and one group")
    default_peers = SMOKE_PEERS if args.smoke else DEFAULT_PEERS
    peers = default_peers if args.peers is None else _names(parser, args.peers, choices=PEERS, what="peers")
    return BenchOptions(
        scale=args.scale if args.scale is not None else (0.05 if args.smoke else 5.0),
        rows=args.rows if args.rows is not None else (20_000 if args.smoke else 1_000_000),
        reps=args.reps if args.reps is not None else (1 if args.smoke else 3),
        systems=systems,
        peers=peers,
        install_peers=not (args.smoke or args.no_install),
        big=args.big,
        groups=groups,
        tunnel=(SMOKE_SIZES if args.smoke else TunnelSizes()).model_copy(
            update={n: v for n in TunnelSizes.model_fields if (v := getattr(args, n)) is not None}
        ),
        transport_messages=_or(args.transport_messages, smoke=args.smoke, small=50, full=2000),
        transport_megabytes=_or(args.transport_megabytes, smoke=args.smoke, small=4, full=256),
        wasm_calls=args.wasm_calls if args.wasm_calls is not None else (50 if args.smoke else 1000),
        wasm_build_cache=args.wasm_build_cache,
        results_dir=args.results_dir,
        temporal=args.temporal,
    )


async def _group(
    name: str,
    measure: Callable[[], Awaitable[Report]],
    show: Callable[[Report], None],
    *,
    options: BenchOptions,
    log: Console,
    bench_id: str,
) -> bool:
    """Measure one group, print its table, write ``<bench_id>-<name>.json``; False if it failed."""
    try:
        report = await measure()
    except Exception as exc:  # a failed group is a result: the other groups' tables still print
        log.log(f"{name} group FAILED: {type(exc).__name__}: {exc}")
        return False
    show(report)
    path = options.results_dir / f"{bench_id}-{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.model_dump_json(indent=2) + "\n")
    log.log(f"{name} figures written to {path}")
    return True


async def tunnel_group(options: BenchOptions, *, out: Console, log: Console, bench_id: str) -> bool:
    """Measure the gateway against direct gRPC, print its table, write its JSON; False if it failed."""
    sizes = options.tunnel
    log.log(
        f"tunnel: {sizes.activities} sequential activities x 2 rounds, {sizes.fanout} activities "
        f"{sizes.in_flight} in flight, {sizes.workflows} workflows, {sizes.idle_agents} idle agents"
    )
    title = f"bench {bench_id}: tunnel, gateway vs direct gRPC (same run)"
    return await _group(
        "tunnel",
        lambda: run_tunnel_bench(sizes, temporal=options.temporal),
        lambda report: print_tunnel(out, report, title=title),
        options=options,
        log=log,
        bench_id=bench_id,
    )


async def transport_group(options: BenchOptions, *, out: Console, log: Console, bench_id: str) -> bool:
    """Measure raw TCP, websockets and the tunnel, TLS off and on; print the table, write the JSON."""
    messages, megabytes = options.transport_messages, options.transport_megabytes
    log.log(f"transport: {messages} echoes, {megabytes} MiB one way, {messages * 10} small messages per row")
    title = f"bench {bench_id}: transport, tunnel vs its wire (same run)"
    return await _group(
        "transport",
        lambda: run_transport_bench(messages=messages, megabytes=megabytes),
        lambda report: print_transport(out, report, title=title),
        options=options,
        log=log,
        bench_id=bench_id,
    )


async def wasm_group(options: BenchOptions, *, out: Console, log: Console, bench_id: str) -> bool:
    """Time generated-SDK calls against direct httpx, a cold load and a build; False if it failed."""
    log.log(f"wasm: {options.wasm_calls} SDK calls against direct httpx, cold loads, one build")
    title = f"bench {bench_id}: wasm, generated SDK vs direct httpx (same run)"
    calls, cache = options.wasm_calls, options.wasm_build_cache
    return await _group(
        "wasm",
        lambda: asyncio.to_thread(run_wasm_bench, calls=calls, build_cache=cache),
        lambda report: print_wasm(out, report, title=title),
        options=options,
        log=log,
        bench_id=bench_id,
    )


async def bench(options: BenchOptions, *, out: Console, log: Console) -> bool:
    """Run the selected groups; True only if every run finished and every copy matched its source."""
    bench_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    ok = True
    if {"copy", "mariadb"} & set(options.groups):
        records = await copy_groups(options, out=out, log=log, bench_id=bench_id)
        ok = bool(records) and all(r.ok or r.skipped for r in records)
    if "tunnel" in options.groups:
        ok = await tunnel_group(options, out=out, log=log, bench_id=bench_id) and ok
    if "transport" in options.groups:
        ok = await transport_group(options, out=out, log=log, bench_id=bench_id) and ok
    if "wasm" in options.groups:
        ok = await wasm_group(options, out=out, log=log, bench_id=bench_id) and ok
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 only if every run finished and every destination matched its source."""
    options = parse_args(argv)
    ok = asyncio.run(
        bench(options, out=Console(width=None if sys.stdout.isatty() else 200), log=Console(stderr=True))
    )
    return 0 if ok else 1


__all__ = ["SYSTEMS", "GROUPS", "Bench", "BenchOptions", "threaded", "parse_args", "bench", "main"]

if __name__ == "__main__":
    sys.exit(main())
