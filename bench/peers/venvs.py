"""The peers' own virtual environments, made by the benchmark from the pinned files beside this one.

dlt, sling and the Singer pair pin dependencies that conflict with ours (SQLAlchemy 2.1,
psycopg2, singer-sdk's own pins), so each gets ``bench/.venvs/<name>`` (git-ignored), created
on first use with ``python -m venv`` and ``pip install -r bench/peers/<name>.txt``; only the
package index is contacted. A stamp holding the requirement file's SHA-256 makes a later run
reuse the venv, and a changed pin rebuild it. pgloader is a Debian package instead
(:func:`ensure_pgloader`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from rich.console import Console

PEERS_DIR = Path(__file__).resolve().parent
VENVS_DIR = PEERS_DIR.parent / ".venvs"
STAMP = ".bench-requirements.sha256"


class PeerUnavailable(RuntimeError):
    """A peer tool could not be installed; the benchmark reports it as not installed and goes on."""


def requirements(name: str) -> Path:
    """The pinned requirement file of peer venv ``name``."""
    return PEERS_DIR / f"{name}.txt"


def venv_python(name: str) -> Path:
    """The interpreter of peer venv ``name`` (which may not exist yet)."""
    return VENVS_DIR / name / "bin" / "python"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def venv_ready(name: str) -> bool:
    """Whether ``bench/.venvs/<name>`` exists and was built from the current requirement file."""
    stamp = VENVS_DIR / name / STAMP
    return (
        venv_python(name).is_file()
        and stamp.is_file()
        and stamp.read_text().strip() == _digest(requirements(name))
    )


def ensure_venv(name: str, *, log: Console | None = None) -> Path:
    """Create or refresh ``bench/.venvs/<name>`` from its requirement file; returns its ``bin`` dir.

    Raises:
        PeerUnavailable: ``venv`` or ``pip`` failed (the tail of pip's output is in the message).
    """
    req = requirements(name)
    home = VENVS_DIR / name
    stamp = home / STAMP
    want = _digest(req)
    if venv_ready(name):
        return home / "bin"
    if log is not None:
        log.log(f"installing peer venv {home} from {req.name} (first use; a few minutes)")
    if home.exists():
        shutil.rmtree(home)
    steps = (
        [sys.executable, "-m", "venv", str(home)],
        [str(venv_python(name)), "-m", "pip", "install", "-q", "-r", str(req)],
    )
    for argv in steps:
        done = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "PIP_NO_INPUT": "1"})
        if done.returncode != 0:
            tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
            raise PeerUnavailable(f"{name}: `{' '.join(argv[-4:])}` failed: {tail}")
    stamp.write_text(want + "\n")
    return home / "bin"


def ensure_pgloader(*, log: Console | None = None, install: bool = True) -> str:
    """The ``pgloader`` executable; installs the Debian package with apt-get when missing and allowed.

    Raises:
        PeerUnavailable: Not on PATH and it could not (or may not) be installed.
    """
    found = shutil.which("pgloader")
    if found:
        return found
    apt = shutil.which("apt-get")
    if not install or apt is None or os.geteuid() != 0:
        why = "installing is off" if not install else "needs root and apt-get"
        raise PeerUnavailable(f"pgloader: not installed ({why}; run `apt-get install -y pgloader`)")
    if log is not None:
        log.log("installing pgloader with apt-get (Debian package)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in ([apt, "update", "-qq"], [apt, "install", "-y", "-qq", "pgloader"]):
        done = subprocess.run(argv, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-2:])
            raise PeerUnavailable(f"pgloader: `{' '.join(argv[1:])}` failed: {tail}")
    found = shutil.which("pgloader")
    if not found:
        raise PeerUnavailable("pgloader: apt-get finished but pgloader is not on PATH")
    return found
