"""The console API served over real HTTP on a loopback port, and ``vsc`` run against it as a user would."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from infra.loopback import serve

__all__ = ["ROOT", "run_vsc", "serve"]


ROOT = Path(__file__).resolve().parents[2]


async def run_vsc(
    *args: str,
    home: Path | None = None,
    url: str | None = None,
    key: str | None = None,
    stdin: str = "",
    env: dict[str, str] | None = None,
) -> tuple[int, str, str]:
    """``vsc ARGS`` in its own process (against the API at ``url``): (exit code, stdout, stderr).

    ``env`` adds variables to the small, fixed environment the process gets.
    """
    env = {"PYTHONPATH": str(ROOT), "COLUMNS": "250", "PATH": "/usr/bin:/bin", **(env or {})}
    if home is not None:
        env["VSC_HOME"] = str(home)
    if url is not None:
        env["VSC_API_URL"] = url
    if key:
        env["VSC_API_KEY"] = key
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "console_api.cli",
        *args,
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await proc.communicate(stdin.encode())
    return proc.returncode or 0, out.decode(), err.decode()
