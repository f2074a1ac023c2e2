"""API keys of the caller's tenant: create (shown once), list, rotate, revoke. Admins only."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException
from sqlalchemy import select

from activities.metadata import ApiKey, TenantSession
from activities.metadata._models import utcnow
from console_api.api.deps import AdminPrincipal, ContextDep, SessionDep
from console_api.api.keys import new_key
from console_api.api.problems import error_responses
from console_api.api.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic, ApiKeysPublic

router = APIRouter(prefix="/api-keys", tags=["api-keys"], responses=error_responses(401, 403, 422))


def _get(session: TenantSession, key_id: str) -> ApiKey:
    row = session.get(ApiKey, key_id)
    # session.get may serve an identity-map hit; the tenant check keeps it honest.
    if row is None or row.tenant_id != session.tenant_id:
        raise HTTPException(404, f"API key {key_id!r} not found")
    return row


@router.post("", response_model=ApiKeyCreated, status_code=201)
def create_api_key(
    body: ApiKeyCreate, _admin: AdminPrincipal, session: SessionDep, ctx: ContextDep
) -> ApiKeyCreated:
    """Create a key; its secret is in this response only."""
    made = new_key(session.tenant_id, pepper=ctx.pepper)
    expires = utcnow() + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    row = ApiKey(
        name=body.name,
        role=body.role.value,
        prefix=made.prefix,
        key_hash=made.key_hash,
        created_at=utcnow(),
        expires_at=expires,
    )
    session.add(row)
    session.flush()
    return ApiKeyCreated(**ApiKeyPublic.model_validate(row).model_dump(), key=made.key)


@router.get("", response_model=ApiKeysPublic)
def list_api_keys(_admin: AdminPrincipal, session: SessionDep) -> ApiKeysPublic:
    """All keys of the tenant, revoked ones included."""
    rows = session.scalars(select(ApiKey).order_by(ApiKey.created_at)).all()
    return ApiKeysPublic(data=[ApiKeyPublic.model_validate(r) for r in rows], count=len(rows))


@router.get("/{key_id}", response_model=ApiKeyPublic, responses=error_responses(404))
def read_api_key(key_id: str, _admin: AdminPrincipal, session: SessionDep) -> ApiKeyPublic:
    """One key."""
    return ApiKeyPublic.model_validate(_get(session, key_id))


@router.post("/{key_id}/rotate", response_model=ApiKeyCreated, responses=error_responses(404, 409))
def rotate_api_key(
    key_id: str, _admin: AdminPrincipal, session: SessionDep, ctx: ContextDep
) -> ApiKeyCreated:
    """Replace the key's secret (and prefix); the old key stops working at once."""
    row = _get(session, key_id)
    if row.revoked_at is not None:
        raise HTTPException(409, f"API key {key_id!r} is revoked and cannot be rotated")
    made = new_key(session.tenant_id, pepper=ctx.pepper)
    row.prefix, row.key_hash, row.rotated_at = made.prefix, made.key_hash, utcnow()
    session.flush()
    return ApiKeyCreated(**ApiKeyPublic.model_validate(row).model_dump(), key=made.key)


@router.delete("/{key_id}", response_model=ApiKeyPublic, responses=error_responses(404))
def revoke_api_key(key_id: str, _admin: AdminPrincipal, session: SessionDep) -> ApiKeyPublic:
    """Revoke a key; it is kept, marked revoked, so the audit trail can still name it."""
    row = _get(session, key_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
    return ApiKeyPublic.model_validate(row)
