"""One-time enrollment tokens: issued by an operator, consumed once by an agent to register its key.

Only the sha256 of a token is stored. Consumption marks the token used and stores the agent's
public key in one transaction, guarded by ``used_at IS NULL``, so two racing agents cannot both
enroll with one token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from datetime import timedelta
from typing import cast

from pydantic import BaseModel
from sqlalchemy import Engine, Table, insert, select, update

from activities.errors import GatewayRefusedError
from activities.metadata import Agent, EnrollmentToken, Tenant, global_session, tenant_session
from activities.metadata._models import as_utc, new_id, utcnow
from console_api.gateway.store import tenant_write
from workflows.queues import agent_queue

DEFAULT_TOKEN_TTL = timedelta(hours=1)
_PUBLIC_KEY_BYTES = 32


class EnrollmentResult(BaseModel):
    """Who was enrolled."""

    tenant: str
    agent_id: str
    group: str
    """The group whose queue the agent serves (its own id unless the token named one)."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_enrollment_token(
    engine: Engine,
    *,
    tenant_id: str,
    agent_id: str,
    ttl: timedelta = DEFAULT_TOKEN_TTL,
    group_id: str | None = None,
) -> str:
    """Create a one-time token that lets one agent enroll as ``agent_id`` within ``ttl``.

    ``group_id`` makes the agent a member of that agent group: it serves the group's queue, which
    every member polls, instead of a queue of its own. The group is fixed here, by the operator,
    so an agent cannot choose which group's work it receives.

    Returns:
        The token; it is shown once and never stored in clear.

    Raises:
        TenantNotFoundError: The tenant is not provisioned.
        QueueNameError: ``agent_id`` or ``group_id`` is not a valid queue name part.
    """
    agent_queue(tenant_id, agent_id)
    if group_id is not None:
        agent_queue(tenant_id, group_id)
    token = secrets.token_urlsafe(32)
    with tenant_session(engine, tenant_id) as session:
        session.add(
            EnrollmentToken(
                token_hash=_hash(token),
                agent_id=agent_id,
                group_id=group_id,
                expires_at=utcnow() + ttl,
                created_at=utcnow(),
            )
        )
    return token


def _refuse(code: str, detail: str, *, tenant: str | None = None) -> GatewayRefusedError:
    return GatewayRefusedError(detail, code=code, tenant=tenant or "")


def _find_tenant(engine: Engine, token_hash: str) -> str | None:
    # Tokens live in their tenant's schema and name no tenant, so the lookup visits each tenant.
    with global_session(engine) as session:
        tenant_ids = list(session.scalars(select(Tenant.id).order_by(Tenant.id)))
    for tenant_id in tenant_ids:
        with tenant_session(engine, tenant_id) as session:
            found = session.scalar(select(EnrollmentToken.id).where(EnrollmentToken.token_hash == token_hash))
        if found is not None:
            return tenant_id
    return None


def consume_enrollment_token(
    engine: Engine, *, token: str, agent_id: str, public_key: str, host: str, version: str
) -> EnrollmentResult:
    """Spend ``token`` to register ``public_key`` for ``agent_id``.

    Raises:
        GatewayRefusedError: ``code`` is ``bad_request`` (malformed key), ``token_invalid``,
            ``token_expired``, ``token_used`` or ``agent_id_mismatch``; ``tenant`` is set when known.
    """
    try:
        raw = base64.b64decode(public_key, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != _PUBLIC_KEY_BYTES:
        raise _refuse("bad_request", "public_key must be base64 of a 32-byte Ed25519 key")
    token_hash = _hash(token)
    tenant_id = _find_tenant(engine, token_hash)
    if tenant_id is None:
        raise _refuse("token_invalid", "the enrollment token is not known")
    now = utcnow()
    tokens = cast(Table, EnrollmentToken.__table__)
    with tenant_write(engine, tenant_id, "enroll an agent") as conn:
        row = conn.execute(
            select(tokens).where(tokens.c.tenant_id == tenant_id, tokens.c.token_hash == token_hash)
        ).one()
        if row.used_at is not None:
            raise _refuse("token_used", "the enrollment token was already used", tenant=tenant_id)
        if as_utc(row.expires_at) <= now:
            raise _refuse("token_expired", "the enrollment token has expired", tenant=tenant_id)
        if row.agent_id != agent_id:
            raise _refuse("agent_id_mismatch", f"the token is not for agent {agent_id!r}", tenant=tenant_id)
        spent = conn.execute(
            update(tokens).where(tokens.c.id == row.id, tokens.c.used_at.is_(None)).values(used_at=now)
        )
        if spent.rowcount != 1:
            raise _refuse("token_used", "the enrollment token was already used", tenant=tenant_id)
        presence = {
            "public_key": public_key,
            "host": host,
            "version": version,
            "revoked_at": None,
            "group_id": row.group_id,
        }
        updated = conn.execute(
            update(Agent)
            .where(Agent.tenant_id == tenant_id, Agent.connector_id == agent_id)
            .values(status="offline", **presence)
        )
        if updated.rowcount == 0:
            conn.execute(
                insert(Agent).values(
                    id=new_id(),
                    tenant_id=tenant_id,
                    connector_id=agent_id,
                    name=agent_id,
                    endpoints={},
                    status="offline",
                    **presence,
                )
            )
    return EnrollmentResult(tenant=tenant_id, agent_id=agent_id, group=row.group_id or agent_id)
