"""Audit event models and the canonical form the hash chain is computed over."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from activities.metadata._models import as_utc

GENESIS_HASH = "0" * 64

# Key fragments that mark a value as a credential; details are for what happened, never how
# to get in. Substrings catch "db_password", whole words catch "key" without catching "monkey".
_SECRET_SUBSTRINGS = ("password", "passwd", "passphrase", "secret", "token", "credential", "apikey")
_SECRET_WORDS = frozenset({"key", "pwd", "authorization", "cookie"})
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_URL_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]*:[^/\s@]+@", re.IGNORECASE)


def _secret_problem(value: Any, path: str) -> str | None:
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            lowered = str(key).lower()
            words = {w.lower() for w in _WORDS.findall(str(key))}
            if any(s in lowered for s in _SECRET_SUBSTRINGS) or words & _SECRET_WORDS:
                return f"audit details key {child!r} looks like a secret; details must not carry secrets"
            problem = _secret_problem(item, child)
            if problem:
                return problem
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problem = _secret_problem(item, f"{path}[{index}]")
            if problem:
                return problem
    elif isinstance(value, str) and _URL_WITH_PASSWORD.search(value):
        return f"audit details value at {path!r} is a URL with a password; mask it before auditing"
    return None


class AuditEvent(BaseModel):
    """One data access or control action to record in a tenant's audit log."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    workflow_id: str = Field(max_length=255)
    run_id: str = Field(max_length=64)
    activity: str = Field(max_length=128)
    action: str = Field(max_length=64)
    target: str = Field(max_length=512)
    rows: int = Field(default=0, ge=0)
    bytes: int = Field(default=0, ge=0)
    outcome: str = Field(max_length=32)
    details: dict[str, Any] = Field(default_factory=dict)

    @field_validator("details")
    @classmethod
    def _details_are_plain_json_without_secrets(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            # Round-trip so the hashed form equals what the database gives back later.
            normalised: dict[str, Any] = json.loads(json.dumps(value, allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"audit details must be plain JSON: {exc}") from None
        problem = _secret_problem(normalised, "")
        if problem:
            raise ValueError(problem)
        return normalised


class AuditRecord(AuditEvent):
    """A stored audit event with its place in the chain."""

    tenant_id: str
    seq: int
    occurred_at: datetime
    prev_hash: str
    hash: str


class AuditVerification(BaseModel):
    """Outcome of walking a tenant's chain; ``first_bad_seq`` is where trust ends."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    count: int
    first_bad_seq: int | None = None
    reason: str | None = None


EVENT_FIELDS = tuple(AuditEvent.model_fields)


def chain_hash(
    *, tenant_id: str, seq: int, occurred_at: datetime, fields: Mapping[str, Any], prev_hash: str
) -> str:
    """sha256(prev_hash + canonical JSON of the row), stable across both backends.

    ``fields`` holds the :data:`EVENT_FIELDS` as stored; verification passes raw row values
    so a tampered row is hashed as it is, not re-validated.
    """
    row = {
        "tenant_id": tenant_id,
        "seq": seq,
        # Microsecond ISO text in UTC: both backends store exactly microseconds.
        "occurred_at": as_utc(occurred_at).replace(tzinfo=None).isoformat(timespec="microseconds"),
        **{name: fields[name] for name in EVENT_FIELDS},
    }
    canonical = json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()
