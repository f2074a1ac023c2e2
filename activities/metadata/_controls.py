"""Control flags: the tenant-wide pause (``tenants.paused``) and pauses of one connection or agent.

The one owner of these rows: the console flips them, the cloud worker's ``read_controls``
activity reads them for the runs it drives, and the console's start checks them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import Engine, select

from activities.metadata._engine import global_session, require_tenant, tenant_session
from activities.metadata._models import ControlFlag, as_utc, utcnow
from activities.metadata._naming import validate_tenant_id

FlagScope = Literal["tenant", "connection", "agent"]


class ControlFlagRecord(BaseModel):
    """One pause in force."""

    scope: FlagScope
    name: str
    reason: str
    updated_at: datetime | None = None


def set_paused(
    engine: Engine, *, tenant_id: str, scope: FlagScope, name: str, paused: bool, reason: str = ""
) -> bool:
    """Pause or resume ``scope``/``name`` of a tenant; returns whether the flag changed.

    Raises:
        TenantNotFoundError: The tenant was never provisioned.
    """
    validate_tenant_id(tenant_id)
    if scope == "tenant":
        with global_session(engine) as session:
            tenant = require_tenant(session, tenant_id)
            changed = tenant.paused != paused
            tenant.paused = paused
            return changed
    with tenant_session(engine, tenant_id) as ts:
        row = ts.get(ControlFlag, (tenant_id, scope, name))
        if row is None:
            if not paused:
                return False
            ts.add(ControlFlag(scope=scope, name=name, paused=True, reason=reason, updated_at=utcnow()))
            return True
        changed = row.paused != paused
        row.paused, row.updated_at = paused, utcnow()
        row.reason = reason if paused else ""
        return changed


def paused_flags(engine: Engine, *, tenant_id: str) -> list[ControlFlagRecord]:
    """Every pause in force for the tenant: the tenant itself first, then by scope and name.

    Raises:
        TenantNotFoundError: The tenant was never provisioned.
    """
    validate_tenant_id(tenant_id)
    with global_session(engine) as session:
        tenant_paused = require_tenant(session, tenant_id).paused
    out = [ControlFlagRecord(scope="tenant", name="", reason="")] if tenant_paused else []
    with tenant_session(engine, tenant_id) as ts:
        stmt = select(ControlFlag).where(ControlFlag.paused.is_(True))
        rows = ts.scalars(stmt.order_by(ControlFlag.scope, ControlFlag.name)).all()
        out += [
            ControlFlagRecord.model_validate(
                {"scope": r.scope, "name": r.name, "reason": r.reason, "updated_at": as_utc(r.updated_at)}
            )
            for r in rows
        ]
    return out


def pauses_for(
    engine: Engine, *, tenant_id: str, connections: Iterable[str], agent: str | None
) -> tuple[str, ...]:
    """Labels of the pauses that hold a run touching ``connections`` through ``agent``.

    Returns ``tenant``, ``connection:<name>`` and ``agent:<id>`` labels; empty when it may run.

    Raises:
        TenantNotFoundError: The tenant was never provisioned.
    """
    wanted = {("connection", c) for c in connections}
    if agent:
        wanted.add(("agent", agent))
    return tuple(
        "tenant" if f.scope == "tenant" else f"{f.scope}:{f.name}"
        for f in paused_flags(engine, tenant_id=tenant_id)
        if f.scope == "tenant" or (f.scope, f.name) in wanted
    )
