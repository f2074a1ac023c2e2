"""Inbound webhooks of the caller's tenant: create (the signing key shown once), list, read, rotate, revoke.

The key lives only in the secret store; senders sign with it and ``POST /hooks/<tenant>/<id>``
(see :mod:`console_api.api.routes.hooks`). Revoking keeps the row, so past deliveries stay
explainable, and removes the key.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response
from sqlalchemy import select

from activities.metadata import TenantSession, Webhook, WorkflowDefinition
from activities.metadata._models import utcnow
from console_api.api.deps import ContextDep, CurrentPrincipal, OperatorPrincipal, SessionDep
from console_api.api.hook_signature import new_hook_key
from console_api.api.problems import error_responses, field_error
from console_api.api.schemas import WebhookCreate, WebhookCreated, WebhookPublic, WebhooksPublic
from workflows.registry import SYNC_PATTERNS

router = APIRouter(prefix="/webhooks", tags=["webhooks"], responses=error_responses(401, 422))
KEY_FIELD = "hmac_key"
"""Name of the signing key inside its secret-store entry."""


def hook_workflow_id(tenant: str, hook_id: str) -> str:
    """The one run a hook's deliveries start or signal, so concurrent events coalesce into it."""
    return f"{tenant}-hook-{hook_id}"


def to_public(row: Webhook) -> WebhookPublic:
    """The API view of a hook, without its key."""
    return WebhookPublic(
        id=row.id,
        name=row.name,
        definition_id=row.definition_id,
        url=f"/hooks/{row.tenant_id}/{row.id}",
        workflow_id=hook_workflow_id(row.tenant_id, row.id),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def _get(session: TenantSession, webhook_id: str) -> Webhook:
    row = session.get(Webhook, webhook_id)
    if row is None or row.tenant_id != session.tenant_id:
        raise HTTPException(404, f"webhook {webhook_id!r} not found")
    return row


def _created(row: Webhook, key: str) -> WebhookCreated:
    return WebhookCreated(**to_public(row).model_dump(), secret=key)


@router.post("", response_model=WebhookCreated, status_code=201, responses=error_responses(403, 409, 503))
def create_webhook(
    body: WebhookCreate, _op: OperatorPrincipal, session: SessionDep, ctx: ContextDep
) -> WebhookCreated:
    """Create a hook for a definition version; the response carries its signing key, this once."""
    definition = session.get(WorkflowDefinition, body.definition_id)
    if definition is None or definition.tenant_id != session.tenant_id:
        raise field_error(
            ("body", "definition_id"), f"the tenant has no workflow definition {body.definition_id!r}"
        )
    if definition.pattern not in SYNC_PATTERNS:
        # A delivery during a run signals `event`, which only the table syncs act on (one more pass).
        raise field_error(
            ("body", "definition_id"),
            f"pattern {definition.pattern} cannot be triggered by a webhook yet; "
            f"only the table syncs ({', '.join(sorted(SYNC_PATTERNS))}) act on events",
        )
    if session.scalar(select(Webhook.id).where(Webhook.name == body.name)) is not None:
        raise HTTPException(409, f"a webhook named {body.name!r} already exists")
    key = new_hook_key()
    row = Webhook(
        name=body.name,
        definition_id=definition.id,
        secret_ref=ctx.secrets.put(session, {KEY_FIELD: key}),
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return _created(row, key)


@router.get("", response_model=WebhooksPublic)
def list_webhooks(
    _caller: CurrentPrincipal,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> WebhooksPublic:
    """The tenant's hooks by name, revoked ones included."""
    rows = session.scalars(select(Webhook).order_by(Webhook.name).limit(limit).offset(offset)).all()
    return WebhooksPublic(data=[to_public(r) for r in rows], count=len(rows))


@router.get("/{webhook_id}", response_model=WebhookPublic, responses=error_responses(404))
def read_webhook(webhook_id: str, _caller: CurrentPrincipal, session: SessionDep) -> WebhookPublic:
    """One hook."""
    return to_public(_get(session, webhook_id))


@router.post(
    "/{webhook_id}/rotate-secret",
    response_model=WebhookCreated,
    responses=error_responses(403, 404, 409, 503),
)
def rotate_webhook_secret(
    webhook_id: str, _op: OperatorPrincipal, session: SessionDep, ctx: ContextDep
) -> WebhookCreated:
    """Replace the hook's signing key; the old one stops verifying as soon as this commits."""
    row = _get(session, webhook_id)
    if row.revoked_at is not None:
        raise HTTPException(409, f"webhook {webhook_id!r} is revoked")
    key, old_ref = new_hook_key(), row.secret_ref
    row.secret_ref = ctx.secrets.put(session, {KEY_FIELD: key})
    ctx.secrets.delete(session, old_ref)
    session.flush()
    return _created(row, key)


@router.delete("/{webhook_id}", status_code=204, response_class=Response, responses=error_responses(403, 404))
def revoke_webhook(webhook_id: str, _op: OperatorPrincipal, session: SessionDep, ctx: ContextDep) -> Response:
    """Revoke a hook: its deliveries answer 404 from now on and its key is removed (idempotent)."""
    row = _get(session, webhook_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        ctx.secrets.delete(session, row.secret_ref)
        session.flush()
    return Response(status_code=204)
