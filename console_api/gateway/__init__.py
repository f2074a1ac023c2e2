"""The agent gateway: enrollment, authenticated agent sessions and the authorizing gRPC proxy."""

from console_api.gateway.agents import AgentIdentity, authenticate, revoke_agent
from console_api.gateway.enrollment import (
    DEFAULT_TOKEN_TTL,
    EnrollmentResult,
    consume_enrollment_token,
    issue_enrollment_token,
)
from console_api.gateway.policy import RULES, Decision, SessionScope, authorize
from console_api.gateway.server import Gateway, serve
from console_api.gateway.settings import GatewaySettings

__all__ = [
    # Server
    "Gateway",
    "GatewaySettings",
    "serve",
    # Enrollment
    "DEFAULT_TOKEN_TTL",
    "EnrollmentResult",
    "issue_enrollment_token",
    "consume_enrollment_token",
    # Agents
    "AgentIdentity",
    "authenticate",
    "revoke_agent",
    # Authorization
    "RULES",
    "Decision",
    "SessionScope",
    "authorize",
]
