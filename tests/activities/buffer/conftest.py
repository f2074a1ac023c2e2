from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from activities.buffer import BufferStore, DirectoryBackend, ObjectBackend
from activities.buffer.s3 import S3Backend
from activities.crypto import LocalKeyring
from tests.activities.buffer.helpers import AuditLog, FakeClock


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(port=0, ip_address="127.0.0.1", verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_client(moto_endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def s3_bucket(s3_client: Any) -> Iterator[str]:
    name = f"vsc-buffer-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    yield name
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=name):
        for item in page.get("Contents", []):
            s3_client.delete_object(Bucket=name, Key=item["Key"])
    s3_client.delete_bucket(Bucket=name)


@pytest.fixture
def s3_backend(s3_client: Any, s3_bucket: str) -> S3Backend:
    return S3Backend(s3_client, s3_bucket, prefix="buffer/")


@pytest.fixture(params=["directory", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectBackend:
    if request.param == "directory":
        return DirectoryBackend(tmp_path / "objects")
    return request.getfixturevalue("s3_backend")


@pytest.fixture
def master_key() -> bytes:
    return secrets.token_bytes(32)


@pytest.fixture
def keyring(tmp_path: Path, master_key: bytes) -> LocalKeyring:
    return LocalKeyring(tmp_path / "keys", master_key)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def audit() -> AuditLog:
    return AuditLog()


@pytest.fixture
def store(backend: ObjectBackend, keyring: LocalKeyring, clock: FakeClock, audit: AuditLog) -> BufferStore:
    return BufferStore(backend=backend, keyring=keyring, clock=clock, on_integrity_failure=audit)
