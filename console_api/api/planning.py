"""Save-time validation of a workflow definition: its connections, its agent and the routing plan.

A definition is checked against what the tenant has when it is saved, so a typo in a
connection name is a 422 on save, not a failed run at 3 a.m.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from activities.metadata import Agent, Connection, TenantSession
from console_api.api.problems import field_error
from workflows.routing import EndpointKind, NoAgentError, RoutePlan, TransformComplexity, plan_route
from workflows.sync_types import SyncInput

# Which side each pattern's endpoints must be on.
PATTERN_SIDES: dict[str, tuple[str, str]] = {
    "3.1.1": ("local", "local"),
    "3.3.1": ("local", "cloud"),
    "3.3.2": ("cloud", "local"),
}
_INPUT = ("body", "input")


def definition_document(pattern: str, body: SyncInput) -> dict[str, Any]:
    """The stored, hashed form of a definition: pattern and input, without workflow state.

    ``derived`` is left out when empty, so definitions saved before it existed keep their hash.
    """
    exclude = {"state"} if body.derived else {"state", "derived"}
    return {"pattern": pattern, "input": body.model_dump(mode="json", exclude=exclude)}


def canonical_json(document: dict[str, Any]) -> bytes:
    """The one byte form of a definition document: its sha256 is the definition's content address."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def connection_named(session: TenantSession, name: str, *field: str | int) -> Connection:
    """The tenant's connection ``name``; 422 at ``input.<field...>`` when it has none."""
    row = session.scalars(select(Connection).where(Connection.name == name)).one_or_none()
    if row is None:
        raise field_error((*_INPUT, *field), f"the tenant has no connection named {name!r}")
    return row


def enrolled_agent(session: TenantSession, agent: str) -> None:
    """Refuse (422 at ``input.agent``) an agent that is neither an enrolled, unrevoked agent nor a group.

    ``agent`` names an agent group, or an agent in no group (whose group is its own id).
    """
    member = session.scalars(
        select(Agent.id).where(
            func.coalesce(Agent.group_id, Agent.connector_id) == agent, Agent.revoked_at.is_(None)
        )
    ).first()
    if member is None:
        raise field_error(
            (*_INPUT, "agent"), f"the tenant has no enrolled, unrevoked agent or agent group {agent!r}"
        )


def flow_agent(session: TenantSession, agent: str | None, *, pattern: str, local: bool) -> str | None:
    """A flow's optional agent: required (enrolled, unrevoked) for a local endpoint, else refused."""
    if not local:
        if agent is not None:
            raise field_error((*_INPUT, "agent"), f"pattern {pattern} runs in the cloud; leave `agent` out")
        return None
    if agent is None:
        raise field_error(
            (*_INPUT, "agent"), f"pattern {pattern} needs the agent that reaches its local side"
        )
    enrolled_agent(session, agent)
    return agent


def _kind(row: Connection) -> EndpointKind:
    return EndpointKind.LOCAL_DB if row.location == "local" else EndpointKind.CLOUD_DB


def plan_definition(session: TenantSession, *, pattern: str, body: SyncInput) -> RoutePlan:
    """Check a definition against the tenant's connections and agents and route its steps.

    Raises:
        RequestValidationError: 422 naming the field at fault.
    """
    source = connection_named(session, body.source_connection, "source_connection")
    destination = connection_named(session, body.destination_connection, "destination_connection")
    want_source, want_destination = PATTERN_SIDES[pattern]
    for row, want, field in (
        (source, want_source, "source_connection"),
        (destination, want_destination, "destination_connection"),
    ):
        if row.location != want:
            raise field_error(
                (*_INPUT, field),
                f"pattern {pattern} needs a {want} connection here; {row.name!r} is {row.location}",
            )
        if row.location == "local" and row.agent_id != body.agent:
            raise field_error(
                (*_INPUT, "agent"),
                f"connection {row.name!r} is reached by agent {row.agent_id!r}, not {body.agent!r}",
            )
    if not destination.write_granted:
        raise field_error(
            (*_INPUT, "destination_connection"), f"connection {destination.name!r} is not granted write"
        )
    enrolled_agent(session, body.agent)
    if body.derived:
        complexity = TransformComplexity.COMPLEX
    elif any(t.transform is not None for t in body.tables):
        complexity = TransformComplexity.SIMPLE
    else:
        complexity = TransformComplexity.NONE
    try:
        return plan_route(
            tenant=session.tenant_id,
            source=_kind(source),
            destination=_kind(destination),
            transform=complexity,
            agent=body.agent,
        )
    except NoAgentError as exc:
        raise field_error((*_INPUT, "agent"), str(exc)) from None
