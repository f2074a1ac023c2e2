"""Fixtures shared by the activity tests: the directory and S3 object stores, the transform engine."""

from pathlib import Path

import pytest

from tests.activities.buffer.conftest import (  # noqa: F401 - fixtures
    backend,
    moto_endpoint,
    s3_backend,
    s3_bucket,
    s3_client,
)


@pytest.fixture
def engine(tmp_path: Path):
    """The transform engine's activities over a fresh real buffer (imported lazily: DuckDB)."""
    from tests.activities.transform_engine_support import make_engine

    return make_engine(tmp_path)
