"""Platform metadata store: models, migrations, tenant schemas, sync state and the audit log."""

from activities.metadata._api_models import Api, ApiVersion
from activities.metadata._audit import AuditWriter
from activities.metadata._audit_models import AuditEvent, AuditRecord, AuditVerification
from activities.metadata._conflict_models import SyncConflict
from activities.metadata._conflicts import (
    ConflictAlreadyAppliedError,
    ConflictNotFoundError,
    ConflictStatus,
    close_conflicts,
    list_conflicts,
    park_conflicts,
    pending_conflicts,
    resolve_conflict,
)
from activities.metadata._controls import ControlFlagRecord, FlagScope, paused_flags, pauses_for, set_paused
from activities.metadata._engine import TenantSession, global_session, make_engine, tenant_session
from activities.metadata._migrate import TenantPublic, migrate, migrate_all, provision_tenant
from activities.metadata._models import (
    Agent,
    ApiKey,
    AuditHead,
    Connection,
    ControlFlag,
    EnrollmentToken,
    Execution,
    GlobalBase,
    Schedule,
    SealedSecret,
    SyncState,
    Tenant,
    TenantBase,
    Webhook,
    WebhookDelivery,
    WorkflowDefinition,
    WorkflowExecutionEvent,
)
from activities.metadata._naming import GLOBAL_SCHEMA, tenant_schema_name, validate_tenant_id
from activities.metadata._sync_state import get_sync_state, save_sync_state

__all__ = [
    # Engines and sessions
    "make_engine",
    "tenant_session",
    "global_session",
    "TenantSession",
    # Tenants, schemas and migrations
    "GLOBAL_SCHEMA",
    "TenantPublic",
    "migrate",
    "migrate_all",
    "provision_tenant",
    "tenant_schema_name",
    "validate_tenant_id",
    # Models
    "GlobalBase",
    "TenantBase",
    "Tenant",
    "Connection",
    "ApiKey",
    "SealedSecret",
    "Agent",
    "EnrollmentToken",
    "WorkflowDefinition",
    "Execution",
    "SyncState",
    "WorkflowExecutionEvent",
    "AuditHead",
    "ControlFlag",
    "Webhook",
    "WebhookDelivery",
    "Schedule",
    "Api",
    "ApiVersion",
    "SyncConflict",
    # Sync state
    "get_sync_state",
    "save_sync_state",
    # Parked conflicts (3.4.3)
    "ConflictStatus",
    "ConflictNotFoundError",
    "ConflictAlreadyAppliedError",
    "park_conflicts",
    "pending_conflicts",
    "list_conflicts",
    "resolve_conflict",
    "close_conflicts",
    # Control flags
    "FlagScope",
    "ControlFlagRecord",
    "set_paused",
    "paused_flags",
    "pauses_for",
    # Audit log
    "AuditEvent",
    "AuditRecord",
    "AuditVerification",
    "AuditWriter",
]
