"""Fixtures shared by the activity tests: both object stores (directory and S3 over HTTP)."""

from tests.activities.buffer.conftest import (  # noqa: F401 - fixtures
    backend,
    moto_endpoint,
    s3_backend,
    s3_bucket,
    s3_client,
)
