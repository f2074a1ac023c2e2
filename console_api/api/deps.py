"""FastAPI dependencies as ``Annotated`` aliases: the caller's key, its tenant, its role, a tenant session.

The tenant comes only from the authenticated key, never from a path, query or body, so every
session a route gets is already confined to the caller's tenant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy import ColumnElement, select
from temporalio.client import Client

from activities.errors import InvalidInputError, TenantNotFoundError
from activities.metadata import ApiKey, Tenant, TenantSession, tenant_session
from activities.metadata._models import as_utc, utcnow
from activities.tiers import DEFAULT_TIER, Tier, tier_of_record
from console_api.api.context import ApiContext
from console_api.api.keys import Role, key_matches, parse_key
from console_api.api.quotas import rate_limited

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="A tenant API key: `Authorization: Bearer vsk.<tenant>.<prefix>.<secret>`.",
)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
"""The ``Authorization: Bearer`` credentials of a request, if any (for routes with another way in)."""


class Principal(BaseModel):
    """The authenticated caller."""

    tenant: str
    key_id: str
    role: Role
    tier: Tier
    """The tenant's tier, read with the key so quota checks need no second lookup."""


def get_context(request: Request) -> ApiContext:
    """The process-wide resources."""
    ctx: ApiContext = request.app.state.ctx
    return ctx


ContextDep = Annotated[ApiContext, Depends(get_context)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers=_CHALLENGE)


def current_principal(ctx: ContextDep, credentials: BearerCredentials) -> Principal:
    """Authenticate the bearer key and count the request against the tenant's rate.

    Every authentication failure is the same 401 so keys cannot be probed. Only authenticated
    requests are counted, each against its own tenant, so one tenant's burst never throttles another.

    Raises:
        HTTPException: 401 for a missing, malformed, unknown, revoked or expired key; 429 (with
            ``Retry-After``) when the tenant is over its tier's API calls per minute.
    """
    if credentials is None:
        raise _unauthorized("an API key is required (Authorization: Bearer <key>)")
    parsed = parse_key(credentials.credentials)
    if parsed is None:
        raise _unauthorized("the API key is not valid")
    return principal_of_key(
        ctx, tenant=parsed.tenant, match=ApiKey.prefix == parsed.prefix, secret=parsed.key
    )


def principal_of_key(
    ctx: ApiContext, *, tenant: str, match: ColumnElement[bool], secret: str | None
) -> Principal:
    """The principal of the tenant's key row ``match`` selects, if it is valid now; counts the request.

    ``secret`` is the presented key, checked against the stored HMAC; ``None`` only for callers
    that proved the key another way (a codec session the server signed for that key).

    Raises:
        HTTPException: 401 for an unknown, wrong, revoked or expired key; 429 over the tier's rate.
    """
    try:
        with tenant_session(ctx.engine, tenant) as session:
            row = session.scalars(select(ApiKey).where(match)).one_or_none()
            found = None if row is None else (row.id, row.role, row.key_hash, row.revoked_at, row.expires_at)
            stored = session.get(Tenant, tenant)  # loaded by tenant_session already: no query
            tier = tier_of_record(stored.tier if stored is not None else DEFAULT_TIER)
    except (InvalidInputError, TenantNotFoundError):
        found = None
    if found is None:
        raise _unauthorized("the API key is not valid")
    key_id, role, key_hash, revoked_at, expires_at = found
    if secret is not None and not key_matches(secret, key_hash, pepper=ctx.pepper):
        raise _unauthorized("the API key is not valid")
    if revoked_at is not None:
        raise _unauthorized("the API key was revoked")
    if expires_at is not None and as_utc(expires_at) <= utcnow():
        raise _unauthorized("the API key has expired")
    retry_after = ctx.limiter.take(tenant, per_minute=tier.api_calls_per_minute)
    if retry_after is not None:
        raise rate_limited(tenant, tier, retry_after)
    return Principal(tenant=tenant, key_id=key_id, role=Role(role), tier=tier)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def current_tenant(principal: CurrentPrincipal) -> str:
    """The caller's tenant id."""
    return principal.tenant


CurrentTenant = Annotated[str, Depends(current_tenant)]


def require_role(minimum: Role) -> Callable[[Principal], Principal]:
    """Dependency factory: the principal, if its role is at least ``minimum``.

    Raises:
        HTTPException: 403 when the role is lower.
    """

    def check(principal: CurrentPrincipal) -> Principal:
        if principal.role.rank < minimum.rank:
            raise HTTPException(
                403, f"this operation needs the {minimum.value} role; the key is {principal.role.value}"
            )
        return principal

    return check


OperatorPrincipal = Annotated[Principal, Depends(require_role(Role.OPERATOR))]
AdminPrincipal = Annotated[Principal, Depends(require_role(Role.ADMIN))]


def get_session(ctx: ContextDep, tenant: CurrentTenant) -> Iterator[TenantSession]:
    """A session on the caller's tenant; commits when the route returns, rolls back when it raises."""
    with tenant_session(ctx.engine, tenant) as session:
        yield session


# scope="function": the transaction ends before the response is sent, so a failed commit
# cannot follow a success response.
SessionDep = Annotated[TenantSession, Depends(get_session, scope="function")]


async def get_temporal(ctx: ContextDep, tenant: CurrentTenant) -> Client:
    """The caller's tenant's Temporal client (its payload codec attached)."""
    return await ctx.temporal_client(tenant)


TemporalDep = Annotated[Client, Depends(get_temporal)]
