"""The agent's own peak RSS: our data paths run once more, each alone in a fresh process.

In the timed runs our in-process systems share the benchmark process with the Temporal
workers, rich, every earlier run's retained allocator pools and the peers' bookkeeping, so
that process's high-water mark says little about what an agent needs. Here each of
``p311`` and ``p331_buffer`` copies a table in a child process that imports only what the
agent imports for that path (``python -m bench.agent_memory SYSTEM SRC DST TABLE WORKDIR``);
the resource meter samples the child's RSS every 50 ms. The copy is verified like every other
run; its wall time includes interpreter start-up, so it is not used as a speed figure.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic import BaseModel

from bench import procs
from bench.data import SourceTable
from bench.pg import Databases, checkpoint, copy_schema, parity
from bench.resources import ResourceMeter
from bench.systems import Target, pattern_311, pattern_331

SYSTEMS = {"p311": pattern_311, "p331_buffer": pattern_331}


class AgentMemory(BaseModel):
    """One fresh-process run of our data path: its peak RSS and whether the copy matched."""

    system: str
    table: str
    rows: int
    peak_rss_mib: float | None
    hash_ok: bool
    error: str | None = None


def measure(*, system: str, source: SourceTable, dbs: Databases, src_url: str, work: Path) -> AgentMemory:
    """Copy ``source`` with ``system`` in a fresh child process; its peak RSS and the parity check."""
    dst_url = dbs.create("mem")
    peak, hash_ok, error = None, False, None
    try:
        copy_schema(src_url=src_url, dst_url=dst_url, table=source.table)
        checkpoint()
        argv = [
            sys.executable,
            "-m",
            "bench.agent_memory",
            system,
            source.src_url,
            dst_url,
            source.table,
            str(work),
        ]
        meter = ResourceMeter(databases=[], in_process=False)
        with meter:
            procs.check(procs.run(argv, logdir=work), what=f"{system} in a fresh process")
        peak = meter.result.peak_rss_mib if meter.result else None
        found = parity(dst_url, table=source.table, key=source.key, columns=source.columns)
        hash_ok = (found.rows, found.md5) == (source.rows, source.md5)
    except Exception as exc:  # reported in the targets table, like a failed run
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    finally:
        dbs.drop(dst_url)
    return AgentMemory(
        system=system, table=source.name, rows=source.rows, peak_rss_mib=peak, hash_ok=hash_ok, error=error
    )


def main() -> None:
    """Child entry point: run one of our data paths once and exit."""
    system, src_url, dst_url, table, workdir = sys.argv[1:6]
    SYSTEMS[system](Target(src_url=src_url, dst_url=dst_url, table=table, workdir=Path(workdir)))


if __name__ == "__main__":
    main()
