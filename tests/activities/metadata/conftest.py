import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from activities.metadata import make_engine

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """One uniquely named PostgreSQL database for this test session, dropped afterwards."""
    name = f"vsc_meta_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Backend:
    name: str
    engine: Engine


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """A fresh metadata store on each backend.

    PostgreSQL reuses the session database; tests use uuid tenant ids so they never collide.
    """
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / '.vsc' / 'metadata.db'}")
    else:
        engine = make_engine(request.getfixturevalue("pg_url"))
    try:
        yield Backend(request.param, engine)
    finally:
        engine.dispose()


def new_tenant_id() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"
