"""Child processes of the benchmark: started with their output in files, tracked while they live.

:class:`bench.resources.ResourceMeter` samples the RSS of every live child (and its descendants)
while a run lasts. Neither ``RUSAGE_CHILDREN`` nor ``wait4`` can give a child's own peak here:
Linux carries the parent's high-water mark across ``fork``/``exec`` into the child's
``ru_maxrss``, so every psql would "peak" at the benchmark process's 200 MiB.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

_lock = threading.Lock()
_live: set[int] = set()


def live_pids() -> list[int]:
    """Children started by :func:`spawn` and not reaped yet."""
    with _lock:
        return sorted(_live)


@dataclass(frozen=True)
class Finished:
    """A reaped child: its exit status and what it wrote to stdout and stderr."""

    returncode: int
    stdout: bytes
    stderr: bytes


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdin: IO[bytes] | int | None = subprocess.DEVNULL,
    stdout: IO[bytes] | int | None = None,
    logdir: Path,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` with stderr (and stdout unless given) going to files in ``logdir``.

    Files rather than pipes: a chatty tool cannot block on a full pipe while nobody reads it.
    """
    logdir.mkdir(parents=True, exist_ok=True)
    name = Path(argv[0]).name
    err = tempfile.NamedTemporaryFile(dir=logdir, prefix=f"{name}-", suffix=".err", delete=False)
    out = (
        stdout
        if stdout is not None
        else tempfile.NamedTemporaryFile(dir=logdir, prefix=f"{name}-", suffix=".out", delete=False)
    )
    proc = subprocess.Popen(
        list(argv), env=dict(env) if env else None, cwd=cwd, stdin=stdin, stdout=out, stderr=err
    )
    with _lock:
        _live.add(proc.pid)
    proc._bench_err = err  # type: ignore[attr-defined]
    proc._bench_out = out if stdout is None else None  # type: ignore[attr-defined]
    return proc


def reap(proc: subprocess.Popen[bytes]) -> Finished:
    """Wait for ``proc`` and return its status and output."""
    proc.wait()
    with _lock:
        _live.discard(proc.pid)

    def read(handle: IO[bytes] | None) -> bytes:
        if handle is None:
            return b""
        handle.seek(0)
        data = handle.read()
        handle.close()
        return data

    return Finished(
        returncode=proc.returncode,
        stdout=read(proc._bench_out),  # type: ignore[attr-defined]
        stderr=read(proc._bench_err),  # type: ignore[attr-defined]
    )


def run(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None, logdir: Path
) -> Finished:
    """Run ``argv`` to completion (no stdin) and return its status and output."""
    return reap(spawn(argv, env=env, cwd=cwd, logdir=logdir))


def check(finished: Finished, *, what: str) -> Finished:
    """Raise with the tail of stderr (or stdout) if ``finished`` failed."""
    if finished.returncode != 0:
        text = (finished.stderr or finished.stdout).decode(errors="replace").strip().splitlines()
        tail = " | ".join(text[-3:]) if text else "no output"
        raise RuntimeError(f"{what} exited with status {finished.returncode}: {tail}")
    return finished
