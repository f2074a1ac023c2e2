"""Codec sessions: how a browser showing the Temporal Web UI proves it may decode a tenant's payloads.

The stock Web UI cannot add an ``Authorization`` header to its codec calls, but with *Include
cross-origin credentials* it sends cookies. ``POST /codec/session`` (authenticated with an API key)
sets a cookie holding a token the server signs with its key pepper: tenant, key id and expiry,
never the key itself. The token is accepted only on ``/codec/*`` (the cookie's path), and every use
re-checks the key row, so revoking or expiring the key ends its sessions at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta

from pydantic import BaseModel, ValidationError

from activities.metadata._models import utcnow

COOKIE = "vsc_codec"
TTL = timedelta(hours=8)
_LABEL = b"vsc-codec-session-v1"


class CodecSession(BaseModel):
    """What a session token says: whose key, and until when."""

    tenant: str
    key_id: str
    expires_at: datetime


def _mac(body: bytes, pepper: bytes) -> str:
    key = hmac.new(pepper, _LABEL, hashlib.sha256).digest()  # a key of its own, not the API-key HMAC's
    return base64.urlsafe_b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode().rstrip("=")


def issue_token(*, tenant: str, key_id: str, pepper: bytes, ttl: timedelta = TTL) -> tuple[str, CodecSession]:
    """A signed session token for ``key_id`` of ``tenant`` and what it holds."""
    session = CodecSession(tenant=tenant, key_id=key_id, expires_at=utcnow() + ttl)
    body = base64.urlsafe_b64encode(session.model_dump_json().encode()).decode().rstrip("=")
    return f"{body}.{_mac(body.encode(), pepper)}", session


def read_token(token: str, *, pepper: bytes) -> CodecSession | None:
    """The session a token holds, or ``None`` when it is malformed, forged or expired."""
    body, _, mac = token.partition(".")
    if not body or not hmac.compare_digest(mac, _mac(body.encode(), pepper)):
        return None
    try:
        session = CodecSession.model_validate(
            json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        )
    except (ValueError, ValidationError):
        return None
    return session if session.expires_at > utcnow() else None
