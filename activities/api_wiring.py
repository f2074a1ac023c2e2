"""Where ``call_api`` gets secrets and writes audit events, per side; the workers pick one of each.

Cloud: secrets from the tenant's secret store (Vault or the sealed store) under the reference
the registration saved, and one metadata audit event per HTTP request. Agent: secrets from its
own vault only (they never leave the premises); its audit goes back through the workflow.
"""

from __future__ import annotations

from pydantic import SecretStr
from sqlalchemy import Engine
from temporalio import activity

from activities.errors import ConnectionNotFoundError
from activities.metadata import AuditEvent as MetadataEvent
from activities.metadata import AuditWriter, tenant_session
from activities.secrets import SecretStore
from sdkgen.runtime import AuditEvent

SECRET_FIELD = "secret"
"""The field of a stored secret that holds an API's key, password, token or client secret."""


class StoreSecrets:
    """Cloud: API secrets in the tenant's secret store, by the reference the registration kept."""

    def __init__(self, *, engine: Engine, store: SecretStore) -> None:
        self._engine = engine
        self._store = store

    def secret(self, *, tenant: str, credential: str) -> SecretStr:
        """The secret stored under ``credential`` for ``tenant``.

        Raises:
            ConnectionNotFoundError: Nothing (or no ``secret`` field) is stored there.
        """
        with tenant_session(self._engine, tenant) as session:
            values = self._store.get(session, credential)
        if SECRET_FIELD not in values:
            raise ConnectionNotFoundError(f"no API secret stored under {credential!r}", connection=credential)
        return SecretStr(values[SECRET_FIELD])


class MetadataAuditSink:
    """Cloud: one event in the tenant's hash-chained audit trail per HTTP request of an SDK."""

    def __init__(self, writer: AuditWriter) -> None:
        self._writer = writer

    def record(self, event: AuditEvent) -> None:
        """Append ``event`` (operation, method, status, bytes, outcome; never URLs, bodies or secrets)."""
        info = activity.info() if activity.in_activity() else None
        self._writer.append(
            event.tenant,
            MetadataEvent(
                workflow_id=info.workflow_id if info and info.workflow_id else "",
                run_id=info.workflow_run_id if info and info.workflow_run_id else "",
                activity=info.activity_type if info else "",
                action="api_call",
                target=f"api:{event.api}.{event.operation}"[:512],
                rows=0,
                bytes=event.bytes,
                outcome=event.outcome,
                details={"method": event.method, "status": event.status, "ms": round(event.duration_ms, 1)},
            ),
        )
