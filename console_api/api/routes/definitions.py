"""Workflow definitions: immutable, versioned, content-addressed in the artifact registry, routed on save."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import func, select

from activities.errors import ArtifactIntegrityError
from activities.metadata import TenantSession, WorkflowDefinition
from activities.metadata._models import utcnow
from console_api.api.api_flows import plan_api_definition
from console_api.api.context import ApiContext
from console_api.api.deps import ContextDep, CurrentPrincipal, OperatorPrincipal, SessionDep
from console_api.api.fan_flows import plan_bidi, plan_fan_in, plan_fan_out
from console_api.api.planning import canonical_json, definition_document, plan_definition
from console_api.api.problems import error_responses
from console_api.api.schemas import (
    BidiDefinition,
    Name,
    WorkflowDefinitionCreate,
    WorkflowDefinitionPublic,
    WorkflowDefinitionsPublic,
)
from workflows.fan_types import FanInInput, FanOutInput
from workflows.routing import RoutePlan
from workflows.sync_types import SyncInput

ARTIFACT_KIND = "workflow-definition"

router = APIRouter(
    prefix="/workflow-definitions", tags=["workflow-definitions"], responses=error_responses(401, 422)
)


def to_public(row: WorkflowDefinition) -> WorkflowDefinitionPublic:
    """The API view of a stored definition version."""
    return WorkflowDefinitionPublic(
        id=row.id,
        name=row.name,
        version=row.version,
        pattern=row.pattern,
        input=row.document["input"],
        content_hash=row.content_hash,
        plan=RoutePlan.model_validate(row.document["plan"]),
        created_at=row.created_at,
    )


def get_definition(session: TenantSession, definition_id: str) -> WorkflowDefinition:
    """The tenant's definition version ``definition_id``.

    Raises:
        HTTPException: 404 when the tenant has no such version.
    """
    row = session.get(WorkflowDefinition, definition_id)
    if row is None or row.tenant_id != session.tenant_id:
        raise HTTPException(404, f"workflow definition {definition_id!r} not found")
    return row


def stored_document(ctx: ApiContext, row: WorkflowDefinition) -> dict[str, Any]:
    """The definition's document from the artifact registry, checked against its row.

    Runs start from this copy: a row altered in the metadata store no longer matches its
    content address and is refused instead of being run.

    Raises:
        ArtifactIntegrityError: The artifact or the row was altered at rest.
    """
    document: dict[str, Any] = json.loads(
        ctx.artifacts.get(tenant=row.tenant_id, kind=ARTIFACT_KIND, sha256=row.content_hash)
    )
    if document != {k: v for k, v in row.document.items() if k != "plan"}:
        raise ArtifactIntegrityError(
            f"workflow definition {row.name!r} v{row.version} does not match its content address "
            f"{row.content_hash[:12]}; it was altered at rest",
            tenant=row.tenant_id,
        )
    return document


@router.post("", response_model=WorkflowDefinitionPublic, status_code=201, responses=error_responses(403))
def create_workflow_definition(
    body: WorkflowDefinitionCreate, _op: OperatorPrincipal, session: SessionDep, ctx: ContextDep
) -> WorkflowDefinitionPublic:
    """Save a new version of the definition ``name`` (versions start at 1 and never change).

    Patterns 3.1.2 and 3.3.3 name registered APIs as ``{"api": name, "version": N}``; a missing
    version is pinned to the API's current one. Upgrading a definition to a new API version is
    saving its next version with that version named. Patterns 3.4.1, 3.4.2 and 3.4.3 are saved as
    given, once every connection they name is checked against the side the input declares.
    """
    if isinstance(body.input, FanOutInput | FanInInput | BidiDefinition):
        if isinstance(body.input, FanOutInput):
            plan = plan_fan_out(session, body.input)
        elif isinstance(body.input, FanInInput):
            plan = plan_fan_in(session, body.input)
        else:
            plan = plan_bidi(session, body.input)
        document = {"pattern": body.pattern, "input": body.input.model_dump(mode="json")}
    elif isinstance(body.input, SyncInput):
        plan = plan_definition(session, pattern=body.pattern, body=body.input)
        # Every run of the definition (API, schedule, webhook) keeps its incremental cursors under one
        # name, the definition's, unless the definition names its own pipeline.
        sync_input = (
            body.input if body.input.pipeline else body.input.model_copy(update={"pipeline": body.name})
        )
        document = definition_document(body.pattern, sync_input)
    else:
        # Mode 2: every API reference is pinned to a version in the saved document (see api_flows).
        plan, saved = plan_api_definition(session, pattern=body.pattern, body=body.input)
        document = {"pattern": body.pattern, "input": saved}
    # Stored before the row commits: a failed commit leaves an unreferenced, immutable artifact, never a
    # row without its document.
    digest = ctx.artifacts.put(
        tenant=session.tenant_id, kind=ARTIFACT_KIND, data=canonical_json(document)
    ).sha256
    latest = session.scalar(
        select(func.max(WorkflowDefinition.version)).where(WorkflowDefinition.name == body.name)
    )
    row = WorkflowDefinition(
        name=body.name,
        version=(latest or 0) + 1,
        pattern=body.pattern,
        document={**document, "plan": plan.model_dump(mode="json")},
        content_hash=digest,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return to_public(row)


@router.get("", response_model=WorkflowDefinitionsPublic)
def list_workflow_definitions(
    _caller: CurrentPrincipal,
    session: SessionDep,
    name: Annotated[Name | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> WorkflowDefinitionsPublic:
    """Definition versions, newest first; ``name`` narrows to one definition's history."""
    stmt = select(WorkflowDefinition)
    if name is not None:
        stmt = stmt.where(WorkflowDefinition.name == name)
    stmt = (
        stmt.order_by(WorkflowDefinition.name, WorkflowDefinition.version.desc()).limit(limit).offset(offset)
    )
    rows = session.scalars(stmt).all()
    return WorkflowDefinitionsPublic(data=[to_public(r) for r in rows], count=len(rows))


@router.get("/{definition_id}", response_model=WorkflowDefinitionPublic, responses=error_responses(404))
def read_workflow_definition(
    definition_id: str, _caller: CurrentPrincipal, session: SessionDep
) -> WorkflowDefinitionPublic:
    """One definition version with its plan."""
    return to_public(get_definition(session, definition_id))
