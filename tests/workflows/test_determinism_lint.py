"""TESTPLAN R10 (static part): workflows/ never reaches for clocks, randomness or I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
BANNED_MODULES = {
    "random",
    "uuid",
    "time",
    "os",
    "socket",
    "subprocess",
    "threading",
    "requests",
    "httpx",
    "asyncpg",
    "psycopg",
    "pymysql",
    "sqlite3",
    "sqlalchemy",
    "boto3",
    "pyarrow",
    "activities",
    "console_api",
    "mini_connector",
    "workers",
    "sdkgen",
    "infra",
}
ALLOWED_FROM_TEMPORAL = {"workflow", "common", "exceptions", "contrib"}
BANNED_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today"), ("uuid", "uuid4")}


def offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in BANNED_MODULES:
                    found.append(f"{path.name}:{node.lineno} import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module:
            root = node.module.split(".")[0]
            if root in BANNED_MODULES:
                found.append(f"{path.name}:{node.lineno} from {node.module}")
            if root == "temporalio":
                sub = node.module.split(".")[1] if "." in node.module else None
                names = {a.name for a in node.names} if sub is None else {sub}
                if not names <= ALLOWED_FROM_TEMPORAL:
                    found.append(f"{path.name}:{node.lineno} from {node.module} import {sorted(names)}")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in BANNED_CALLS:
                found.append(f"{path.name}:{node.lineno} {node.value.id}.{node.attr}")
    return found


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.py")), ids=lambda p: p.name)
def test_workflow_module_is_deterministic(path: Path) -> None:
    assert offences(path) == []


def test_lint_catches_a_banned_call(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import random\nfrom datetime import datetime\nx = datetime.now()\nfrom activities import sql\n"
    )
    assert len(offences(bad)) == 3
