"""S3-backed object store (production; tests use moto's real HTTP server)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from activities.buffer._backend import ObjectInfo
from activities.errors import BufferNotFoundError, ObjectStoreUnavailableError, VscError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

LIFECYCLE_RULE_ID = "vsc-buffer-expiry"

_CODE_MAP: dict[str, type[VscError]] = {
    "NoSuchKey": BufferNotFoundError,
    "404": BufferNotFoundError,
    "NotFound": BufferNotFoundError,
}


@contextmanager
def _map_s3_errors(bucket: str, key: str) -> Iterator[None]:
    """Translate botocore failures: missing objects are terminal, everything else may recover."""
    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        target = _CODE_MAP.get(code, ObjectStoreUnavailableError)
        raise target(f"s3://{bucket}/{key}: {code or 'error'}", bucket=bucket, key=key) from None
    except BotoCoreError as exc:
        raise ObjectStoreUnavailableError(
            f"s3://{bucket}/{key}: {type(exc).__name__}", bucket=bucket, key=key
        ) from None


class S3Backend:
    """Objects in one S3 bucket, optionally under a key prefix.

    Args:
        client: A boto3 S3 client (its credentials stay with the cloud worker).
        bucket: Bucket name.
        prefix: Key prefix, e.g. ``"buffer/"``, so the bucket can hold other data.
    """

    def __init__(self, client: S3Client, bucket: str, prefix: str = "") -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` (S3 PUTs are atomic)."""
        with _map_s3_errors(self._bucket, key):
            self._client.put_object(Bucket=self._bucket, Key=self._prefix + key, Body=data)

    def get(self, key: str, *, length: int | None = None) -> bytes:
        """Return the object's bytes, or its first ``length`` bytes (ranged GET).

        Raises:
            BufferNotFoundError: No object under ``key``.
        """
        extra: dict[str, Any] = {} if length is None else {"Range": f"bytes=0-{max(length, 1) - 1}"}
        with _map_s3_errors(self._bucket, key):
            response = self._client.get_object(Bucket=self._bucket, Key=self._prefix + key, **extra)
            return response["Body"].read()

    def delete(self, key: str) -> None:
        """Remove ``key``; S3 treats a missing key as success."""
        with _map_s3_errors(self._bucket, key):
            self._client.delete_object(Bucket=self._bucket, Key=self._prefix + key)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Yield objects whose key (below this backend's prefix) starts with ``prefix``."""
        paginator = self._client.get_paginator("list_objects_v2")
        with _map_s3_errors(self._bucket, prefix):
            for page in paginator.paginate(Bucket=self._bucket, Prefix=self._prefix + prefix):
                for item in page.get("Contents", []):
                    yield ObjectInfo(
                        key=item["Key"][len(self._prefix) :],
                        size=item["Size"],
                        last_modified=item["LastModified"],
                    )

    def ensure_lifecycle(self, days: int) -> None:
        """Install (or update) a bucket expiration rule as a backstop to the sweeper.

        Other lifecycle rules on the bucket are preserved; only ours is replaced.

        Args:
            days: Expire objects under this backend's prefix this many days after creation.
        """
        rule: Any = {
            "ID": LIFECYCLE_RULE_ID,
            "Filter": {"Prefix": self._prefix},
            "Status": "Enabled",
            "Expiration": {"Days": days},
        }
        with _map_s3_errors(self._bucket, self._prefix):
            try:
                existing = self._client.get_bucket_lifecycle_configuration(Bucket=self._bucket)["Rules"]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "NoSuchLifecycleConfiguration":
                    raise
                existing = []
            rules = [r for r in existing if r.get("ID") != LIFECYCLE_RULE_ID] + [rule]
            self._client.put_bucket_lifecycle_configuration(
                Bucket=self._bucket, LifecycleConfiguration={"Rules": rules}
            )
