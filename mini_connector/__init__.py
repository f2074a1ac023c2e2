"""The on-premise agent: a Temporal worker serving its own task queue, its identity and local vault."""

from mini_connector.doctor import Check, Status, check_credential, check_gateway, check_vault
from mini_connector.enroll import REFUSALS, EnrollResult, agent_version, enroll
from mini_connector.identity import AUTH_CONTEXT, AgentIdentity, AgentKey, hello_payload, verify
from mini_connector.vault import Vault, machine_identity
from mini_connector.vault_models import CredentialKind, VaultContents, VaultCredential

__all__ = [
    # identity
    "AgentKey",
    "AgentIdentity",
    "AUTH_CONTEXT",
    "hello_payload",
    "verify",
    # vault
    "Vault",
    "VaultContents",
    "VaultCredential",
    "CredentialKind",
    "machine_identity",
    # enrollment
    "enroll",
    "EnrollResult",
    "REFUSALS",
    "agent_version",
    # health checks
    "Check",
    "Status",
    "check_vault",
    "check_gateway",
    "check_credential",
]
