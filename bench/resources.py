"""CPU seconds and peak RSS of one benchmark run, read from procfs and ``getrusage``.

What is counted, and why:

- **client CPU**: this process (which hosts our in-process paths and the in-process Temporal
  workers) plus every child reaped during the run (psql, dlt, sling, pgloader, Singer: exact,
  from ``RUSAGE_CHILDREN``), plus long-lived helper processes a system names (the Temporal dev
  server of the orchestrated variant), read from ``/proc/<pid>/stat``. For a subprocess peer the
  benchmark process itself only waits and samples, a few tens of milliseconds.
- **database CPU**: the PostgreSQL backends connected to the run's source and destination
  databases. Their PIDs come from ``pg_stat_activity`` every :data:`INTERVAL_S`, their CPU from
  ``/proc/<pid>/stat``; a backend that exits between two samples loses at most one interval of
  CPU, so short runs undercount slightly. Server-wide work (WAL writer, checkpointer) and a
  MariaDB source are not counted.
- **peak RSS**: for in-process systems, this process's ``VmHWM`` after resetting it
  (``/proc/self/clear_refs``), i.e. the agent side including the benchmark's own imports; for
  subprocess systems, the largest sum of ``VmRSS`` over the tool's live processes (children
  started by :mod:`bench.procs` and their descendants), sampled every :data:`INTERVAL_S`.
"""

from __future__ import annotations

import os
import resource
import threading
from collections.abc import Iterable
from types import TracebackType

import psycopg
from pydantic import BaseModel

from bench import procs
from bench.pg import ADMIN_URL

INTERVAL_S = 0.05
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of one process from ``/proc/<pid>/stat``; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK  # fields 14 and 15 of stat(5)


def vm_kib(field: str, pid: int | str = "self") -> int:
    """One ``Vm*`` line of ``/proc/<pid>/status`` in KiB (``VmRSS``, ``VmHWM``)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def reset_peak_rss() -> bool:
    """Reset this process's ``VmHWM`` to its current RSS; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


def tree_rss_kib(pid: int) -> int:
    """``VmRSS`` summed over ``pid`` and its descendants (0 for processes already gone)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += vm_kib("VmRSS", current)
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children", encoding="ascii") as kids:
                    todo.extend(int(k) for k in kids.read().split())
        except (OSError, RuntimeError):  # exited meanwhile, or a zombie without memory
            continue
    return total


def child_pids(*, comm_prefix: str) -> list[int]:
    """Direct children of this process whose command name starts with ``comm_prefix``."""
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                text = stat.read()
        except OSError:
            continue
        comm = text[text.find("(") + 1 : text.rfind(")")]
        ppid = int(text.rsplit(")", 1)[1].split()[1])
        if ppid == me and comm.startswith(comm_prefix):
            found.append(int(entry))
    return found


class Resources(BaseModel):
    """What one run cost."""

    client_cpu_s: float
    db_cpu_s: float
    peak_rss_mib: float | None


def _client_cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class ResourceMeter:
    """Measures one run: use as a context manager around it, then read :attr:`result`.

    Args:
        databases: Names of the PostgreSQL databases whose backends count as the run's.
        helper_pids: Long-lived processes whose CPU during the run counts as the system's.
        in_process: Whether the system runs in this process (its RSS is then the peak that counts).
    """

    def __init__(
        self, *, databases: Iterable[str], helper_pids: Iterable[int] = (), in_process: bool
    ) -> None:
        self.databases = sorted(set(databases))
        self.helper_pids = list(helper_pids)
        self.in_process = in_process
        self.result: Resources | None = None
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_loop, name="bench-resource-meter", daemon=True)
        self._conn: psycopg.Connection | None = None
        self._peak_tree_kib = 0

    def _backends(self) -> list[int]:
        assert self._conn is not None
        rows = self._conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = ANY(%s) AND pid <> pg_backend_pid()",
            [self.databases],
        ).fetchall()
        return [r[0] for r in rows]

    def _sample(self) -> None:
        tree = sum(tree_rss_kib(pid) for pid in procs.live_pids())
        self._peak_tree_kib = max(self._peak_tree_kib, tree)
        for pid in self._backends():
            seconds = cpu_seconds(pid)
            if seconds is not None:
                self._first.setdefault(pid, 0.0)
                self._last[pid] = seconds
        for pid in list(self._last):
            seconds = cpu_seconds(pid)
            if seconds is not None:
                self._last[pid] = seconds

    def _sample_loop(self) -> None:
        while not self._stop.wait(INTERVAL_S):
            self._sample()

    def __enter__(self) -> ResourceMeter:
        self._conn = psycopg.connect(ADMIN_URL, autocommit=True)
        for pid in self._backends():  # already connected before the run: count only their delta
            seconds = cpu_seconds(pid)
            if seconds is not None:
                self._first[pid] = self._last[pid] = seconds
        self._helpers_before = {pid: cpu_seconds(pid) or 0.0 for pid in self.helper_pids}
        self._reset = reset_peak_rss() if self.in_process else False
        self._client_before = _client_cpu()
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        client = _client_cpu() - self._client_before
        self._stop.set()
        self._thread.join()
        try:
            self._sample()
        finally:
            assert self._conn is not None
            self._conn.close()
        client += sum((cpu_seconds(pid) or before) - before for pid, before in self._helpers_before.items())
        db = sum(self._last[pid] - self._first[pid] for pid in self._last)
        if self.in_process:
            peak = vm_kib("VmHWM") / 1024 if self._reset else None
        else:
            peak = self._peak_tree_kib / 1024 if self._peak_tree_kib else None
        self.result = Resources(client_cpu_s=client, db_cpu_s=db, peak_rss_mib=peak)
