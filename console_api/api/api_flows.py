"""Mode 2 definitions (3.1.2, 3.2.1, 3.2.2, 3.3.3): their API references, pinned on save, bound per run.

A saved definition names each API as ``{"api": name, "version": N}``; a reference without a
version gets the API's current one written into the saved document, so a saved definition
never floats. A run turns each reference into the binding of exactly that version (its
``SdkPin``), so a later refresh or publish of the API changes no saved definition and no
run; upgrading is saving a new definition version that names the new API version.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from sqlalchemy import select

from activities.artifacts import ArtifactRegistry
from activities.metadata import Api, Connection, TenantSession
from console_api.api.api_registry import Side, api_binding, description_of, get_api, get_version
from console_api.api.planning import flow_agent
from console_api.api.problems import field_error
from console_api.api.schemas import ApiRef, ApiToApiDefinition, DbToApiDefinition
from workflows.routing import (
    EndpointKind,
    NoAgentError,
    RoutePlan,
    TransformComplexity,
    api_endpoint,
    plan_route,
)

_INPUT = ("body", "input")
API_FIELDS: dict[str, tuple[tuple[str, Side], ...]] = {
    "3.1.2": (("api", "agent"),),
    "3.2.1": (("source", "cloud"), ("destination", "cloud")),
    "3.2.2": (("api", "cloud"),),
    "3.3.3": (("source", "agent"), ("destination", "cloud")),
}
"""Per pattern: the input fields that reference an API, and which side of the flow calls it."""
ENDPOINTS: dict[str, tuple[EndpointKind, EndpointKind]] = {
    "3.1.2": (EndpointKind.LOCAL_DB, EndpointKind.LOCAL_API),
    "3.2.1": (EndpointKind.INTERNET_API, EndpointKind.INTERNET_API),
    "3.2.2": (EndpointKind.CLOUD_DB, EndpointKind.INTERNET_API),
    "3.3.3": (EndpointKind.LOCAL_API, EndpointKind.INTERNET_API),
}
"""Per pattern: what it reads and what it writes."""


def _api(session: TenantSession, ref: ApiRef, field: str) -> tuple[Api, int]:
    """The referenced API and the version to pin (the current one when the reference has none)."""
    try:
        api = get_api(session, ref.api)
        version = ref.version or api.current_version
        get_version(session, api, version)
    except HTTPException as exc:
        raise field_error((*_INPUT, field), str(exc.detail)) from None
    return api, version


def _operation(
    session: TenantSession, api: Api, version: int, op_id: str, *, field: str, write: bool
) -> None:
    """The operation exists in the pinned version, and is granted write if it sends records."""
    desc = description_of(get_version(session, api, version))
    op = next((o for o in desc.operations if o.op_id == op_id), None)
    if op is None:
        raise field_error((*_INPUT, field), f"API {api.name!r} v{version} has no operation {op_id!r}")
    if write and not op.read_only and op_id not in api.writable_operations:
        raise field_error(
            (*_INPUT, field), f"operation {op_id!r} of API {api.name!r} is not granted write at registration"
        )


def _local_api(api: Api, *, agent: str, field: str) -> None:
    if api.agent_id is not None and api.agent_id != agent:
        raise field_error(
            (*_INPUT, field), f"API {api.name!r} is reached by agent {api.agent_id!r}, not {agent!r}"
        )


def _source_table(session: TenantSession, body: DbToApiDefinition, *, pattern: str) -> None:
    row = session.scalars(select(Connection).where(Connection.name == body.source_connection)).one_or_none()
    field = (*_INPUT, "source_connection")
    if row is None:
        raise field_error(field, f"the tenant has no connection named {body.source_connection!r}")
    if body.agent is None:
        if row.location != "cloud":
            raise field_error(field, f"pattern {pattern} reads a cloud connection")
    elif row.location != "local" or row.agent_id != body.agent:
        raise field_error(field, f"pattern {pattern} reads a local connection of agent {body.agent!r}")


def _endpoint(api: Api, *, other: EndpointKind, expected: EndpointKind, pattern: str, field: str) -> None:
    kind = api_endpoint(api.accessibility, other=other)
    if kind is not expected:
        raise field_error(
            (*_INPUT, field), f"pattern {pattern} needs {expected.label} here; {api.name!r} is {kind.label}"
        )


def plan_api_definition(
    session: TenantSession, *, pattern: str, body: DbToApiDefinition | ApiToApiDefinition
) -> tuple[RoutePlan, dict[str, Any]]:
    """Check a Mode 2 definition against the tenant's APIs, connections and agents; pin and route it.

    Returns:
        The route plan, and the input to save: every API reference carries its version.

    Raises:
        RequestValidationError: 422 naming the field at fault (unknown API or version, an operation
            the pinned version lacks or that is not granted write, the wrong side of the network,
            an agent missing for a local side or given for a cloud-only flow).
    """
    source, destination = ENDPOINTS[pattern]
    agent = flow_agent(session, body.agent, pattern=pattern, local=source.is_local or destination.is_local)
    saved = body.model_dump(mode="json")
    if isinstance(body, DbToApiDefinition):
        _source_table(session, body, pattern=pattern)
        api, version = _api(session, body.api, "api")
        _endpoint(api, other=source, expected=destination, pattern=pattern, field="api")
        if agent is not None:
            _local_api(api, agent=agent, field="api")
        _operation(session, api, version, body.operation, field="operation", write=True)
        saved["api"]["version"] = version
        simple = body.transform is not None
    else:
        src, src_version = _api(session, body.source, "source")
        dst, dst_version = _api(session, body.destination, "destination")
        _endpoint(src, other=destination, expected=source, pattern=pattern, field="source")
        _endpoint(dst, other=source, expected=destination, pattern=pattern, field="destination")
        if agent is not None:
            _local_api(src, agent=agent, field="source")
        _operation(session, src, src_version, body.list_operation, field="list_operation", write=False)
        _operation(session, dst, dst_version, body.operation, field="operation", write=True)
        saved["source"]["version"], saved["destination"]["version"] = src_version, dst_version
        simple = True
    try:
        plan = plan_route(
            tenant=session.tenant_id,
            source=source,
            destination=destination,
            transform=TransformComplexity.SIMPLE if simple else TransformComplexity.NONE,
            agent=agent,
        )
    except NoAgentError as exc:
        raise field_error((*_INPUT, "agent"), str(exc)) from None
    return plan, saved


def bind_apis(
    session: TenantSession, registry: ArtifactRegistry, *, pattern: str, saved: dict[str, Any]
) -> dict[str, Any]:
    """The workflow input of one run: each saved ``{"api", "version"}`` replaced by that version's binding.

    Raises:
        HTTPException: 409 when a referenced API or version no longer exists.
    """
    workflow_input = dict(saved)
    for field, side in API_FIELDS[pattern]:
        ref = ApiRef.model_validate(saved[field])
        if ref.version is None:  # saved definitions always pin; an unpinned one is refused, not floated
            raise HTTPException(409, f"the definition's {field!r} names API {ref.api!r} without a version")
        try:
            workflow_input[field] = api_binding(
                session, registry, name=ref.api, version=ref.version, side=side
            )
        except HTTPException as exc:
            raise HTTPException(409, f"the definition's {field!r}: {exc.detail}") from None
    return workflow_input
