"""Gateway audit events: every refusal, and every session opened or closed.

Details carry codes, names and reasons only, never tokens, keys or signatures (the audit
writer would reject such keys anyway).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import Engine

from activities.errors import VscError
from activities.metadata import AuditEvent, AuditWriter, provision_tenant

log = logging.getLogger("vsc.gateway")


class GatewayAudit:
    """Appends gateway events to the tenant's audit log, or to the platform tenant's if none is known.

    Args:
        engine: The metadata store.
        platform_tenant: Receives events that cannot be attributed to a tenant.
    """

    def __init__(self, engine: Engine, *, platform_tenant: str) -> None:
        self._writer = AuditWriter(engine)
        self._engine = engine
        self.platform_tenant = platform_tenant

    def ensure_platform_tenant(self) -> None:
        """Provision the platform tenant (idempotent) so unattributed refusals have a log."""
        provision_tenant(self._engine, tenant_id=self.platform_tenant, name="platform (gateway)")

    async def record(
        self,
        *,
        tenant: str | None,
        action: str,
        target: str,
        outcome: str,
        details: dict[str, Any],
        workflow_id: str = "",
    ) -> None:
        """Append one event; a failing audit store is logged, never allowed to open a refusal."""
        event = AuditEvent(
            workflow_id=workflow_id[:255],
            run_id="",
            activity="gateway",
            action=action,
            target=target[:512],
            outcome=outcome,
            details=details,
        )
        destination = tenant or self.platform_tenant
        try:
            await asyncio.to_thread(self._writer.append, destination, event)
        except VscError as exc:
            if destination == self.platform_tenant:
                log.error("audit of %s failed: %s", action, exc.message)
                return
            # The claimed tenant may not exist: keep the event in the platform log instead.
            await self.record(
                tenant=None,
                action=action,
                target=target,
                outcome=outcome,
                details={**details, "claimed_tenant": tenant},
                workflow_id=workflow_id,
            )
