"""The caller's own tenant."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from activities.metadata import Tenant
from console_api.api.deps import CurrentPrincipal, SessionDep
from console_api.api.problems import error_responses
from console_api.api.schemas import TenantPublic
from workflows.queues import cloud_queue

router = APIRouter(prefix="/tenants", tags=["tenants"], responses=error_responses(401))


@router.get("/me", response_model=TenantPublic)
def read_tenant_me(principal: CurrentPrincipal, session: SessionDep) -> TenantPublic:
    """The tenant the caller's key belongs to."""
    tenant = session.get(Tenant, principal.tenant)
    if tenant is None:  # removed after the key was checked
        raise HTTPException(404, f"tenant {principal.tenant!r} not found")
    return TenantPublic(
        id=tenant.id,
        name=tenant.name,
        tier=tenant.tier,
        paused=tenant.paused,
        created_at=tenant.created_at,
        cloud_queue=cloud_queue(tenant.id),
    )
