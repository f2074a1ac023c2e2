"""Webhook signatures: HMAC-SHA256 over the timestamp, the delivery id and the raw body.

A sender computes ``hex(HMAC-SHA256(key, "<timestamp>.<delivery id>.<raw body>"))`` and sends it
as ``X-VSC-Signature: sha256=<hex>`` with ``X-VSC-Timestamp`` (unix seconds) and
``X-VSC-Delivery``. The delivery id is signed too: otherwise a captured request could be
replayed under a fresh delivery id inside the timestamp tolerance and start a new run.
"""

from __future__ import annotations

import hmac
import re
import secrets

TIMESTAMP_HEADER = "X-VSC-Timestamp"
DELIVERY_HEADER = "X-VSC-Delivery"
SIGNATURE_HEADER = "X-VSC-Signature"
SIGNATURE_PREFIX = "sha256="
DELIVERY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$")
_SIGNATURE = re.compile(r"^sha256=[0-9a-f]{64}$")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")


def new_hook_key() -> str:
    """A fresh signing key: 256 random bits, URL-safe text."""
    return secrets.token_urlsafe(32)


def signed_message(*, timestamp: str, delivery_id: str, body: bytes) -> bytes:
    """The exact bytes the signature covers."""
    return f"{timestamp}.{delivery_id}.".encode() + body


def sign(*, key: str, timestamp: str, delivery_id: str, body: bytes) -> str:
    """The ``X-VSC-Signature`` value for a delivery."""
    digest = hmac.new(
        key.encode(), signed_message(timestamp=timestamp, delivery_id=delivery_id, body=body), "sha256"
    )
    return SIGNATURE_PREFIX + digest.hexdigest()


def parse_timestamp(value: str | None) -> int | None:
    """The timestamp header as unix seconds, or None when absent or malformed."""
    if value is None or not _TIMESTAMP.match(value):
        return None
    return int(value)


def signature_matches(
    *, key: str, timestamp: str, delivery_id: str, body: bytes, presented: str | None
) -> bool:
    """Constant-time check of a presented signature; a malformed header never matches."""
    if presented is None or not _SIGNATURE.match(presented):
        return False
    expected = sign(key=key, timestamp=timestamp, delivery_id=delivery_id, body=body)
    return hmac.compare_digest(expected.encode(), presented.encode())
