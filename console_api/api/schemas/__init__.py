"""Request and response models: ``XCreate`` / ``XUpdate`` in, ``XPublic`` / ``XsPublic`` out.

Request models forbid unknown fields, so a body naming ``tenant_id``, ``role`` of another key
or a ``task_queue`` is refused with 422 instead of being silently applied. One module per
resource family; shared building blocks are in ``_common``.
"""

from console_api.api.schemas._common import ConfigValue, ConnectorId, Moment, Name, Page, Request, Text
from console_api.api.schemas.agents import (
    AgentPublic,
    AgentsPublic,
    EnrollmentTokenCreate,
    EnrollmentTokenPublic,
)
from console_api.api.schemas.api_keys import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic, ApiKeysPublic
from console_api.api.schemas.audit import AuditEventsPublic
from console_api.api.schemas.codec import CodecPayload, CodecPayloads, CodecSessionPublic
from console_api.api.schemas.connections import (
    ConnectionConfig,
    ConnectionCreate,
    ConnectionKind,
    ConnectionPublic,
    ConnectionsPublic,
    ConnectionUpdate,
    SecretValues,
)
from console_api.api.schemas.controls import (
    ControlChangePublic,
    ControlFlagPublic,
    ControlFlagsPublic,
    ControlFlagUpdate,
    EmergencyStopCreate,
    EmergencyStopPublic,
)
from console_api.api.schemas.definitions import (
    Pattern,
    WorkflowDefinitionCreate,
    WorkflowDefinitionPublic,
    WorkflowDefinitionsPublic,
)
from console_api.api.schemas.executions import (
    ActivityProgress,
    ExecutionCreate,
    ExecutionParams,
    ExecutionProgress,
    ExecutionPublic,
    ExecutionSignal,
    ExecutionSignalled,
    ExecutionsPublic,
    ExecutionTerminate,
)
from console_api.api.schemas.marketplace import (
    KindName,
    MarketplaceInstall,
    MarketplaceKindDetailPublic,
    MarketplaceKindPublic,
    MarketplaceKindsPublic,
)
from console_api.api.schemas.schedules import (
    OverlapPolicy,
    ScheduleActionPublic,
    ScheduleCreate,
    ScheduleNote,
    SchedulePublic,
    SchedulesPublic,
    ScheduleStatePublic,
)
from console_api.api.schemas.tenants import QuotasPublic, TenantPublic, UsagePublic
from console_api.api.schemas.webhooks import (
    HookDeliveryPublic,
    WebhookCreate,
    WebhookCreated,
    WebhookPublic,
    WebhooksPublic,
)

__all__ = [
    "Moment",
    "Name",
    "ConnectorId",
    "Text",
    "ConfigValue",
    "Request",
    "Page",
    "TenantPublic",
    "QuotasPublic",
    "UsagePublic",
    "ApiKeyCreate",
    "ApiKeyPublic",
    "ApiKeyCreated",
    "ApiKeysPublic",
    "ConnectionKind",
    "ConnectionConfig",
    "SecretValues",
    "ConnectionCreate",
    "ConnectionUpdate",
    "ConnectionPublic",
    "ConnectionsPublic",
    "AgentPublic",
    "AgentsPublic",
    "EnrollmentTokenCreate",
    "EnrollmentTokenPublic",
    "Pattern",
    "WorkflowDefinitionCreate",
    "WorkflowDefinitionPublic",
    "WorkflowDefinitionsPublic",
    "ExecutionCreate",
    "ExecutionParams",
    "ExecutionPublic",
    "ExecutionsPublic",
    "ExecutionTerminate",
    "ExecutionSignal",
    "ExecutionSignalled",
    "ExecutionProgress",
    "ActivityProgress",
    "ControlFlagUpdate",
    "ControlFlagPublic",
    "ControlFlagsPublic",
    "ControlChangePublic",
    "EmergencyStopCreate",
    "EmergencyStopPublic",
    "AuditEventsPublic",
    "KindName",
    "MarketplaceKindPublic",
    "MarketplaceKindDetailPublic",
    "MarketplaceKindsPublic",
    "MarketplaceInstall",
    "WebhookCreate",
    "WebhookPublic",
    "WebhookCreated",
    "WebhooksPublic",
    "HookDeliveryPublic",
    "OverlapPolicy",
    "ScheduleCreate",
    "ScheduleNote",
    "ScheduleActionPublic",
    "ScheduleStatePublic",
    "SchedulePublic",
    "SchedulesPublic",
    "CodecPayload",
    "CodecPayloads",
    "CodecSessionPublic",
]
