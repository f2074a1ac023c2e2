"""The caller's own tenant, its tier's quotas and the usage that is cheap to report."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from activities.metadata import Tenant
from console_api.api.deps import ContextDep, CurrentPrincipal, SessionDep
from console_api.api.problems import error_responses
from console_api.api.quotas import agent_ids_in_use
from console_api.api.schemas import QuotasPublic, TenantPublic, UsagePublic
from workflows.queues import cloud_queue

router = APIRouter(prefix="/tenants", tags=["tenants"], responses=error_responses(401))


@router.get("/me", response_model=TenantPublic)
def read_tenant_me(principal: CurrentPrincipal, session: SessionDep, ctx: ContextDep) -> TenantPublic:
    """The tenant the caller's key belongs to, with its tier's quotas (read-only) and current usage."""
    tenant = session.get(Tenant, principal.tenant)
    if tenant is None:  # removed after the key was checked
        raise HTTPException(404, f"tenant {principal.tenant!r} not found")
    tier = principal.tier
    return TenantPublic(
        id=tenant.id,
        name=tenant.name,
        tier=tier.name,
        paused=tenant.paused,
        created_at=tenant.created_at,
        cloud_queue=cloud_queue(tenant.id),
        quotas=QuotasPublic.model_validate(tier.model_dump(exclude={"name"})),
        usage=UsagePublic(
            agents=len(agent_ids_in_use(ctx.engine, tenant.id)),
            api_calls_remaining=ctx.limiter.remaining(tenant.id, per_minute=tier.api_calls_per_minute),
        ),
    )
