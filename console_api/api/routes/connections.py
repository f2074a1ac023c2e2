"""Connections of the caller's tenant. Secrets go to the secret store and are never returned."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response
from sqlalchemy import select

from activities.metadata import Connection, TenantSession
from activities.metadata._models import utcnow
from activities.secrets import SecretStore
from console_api.api.deps import ContextDep, CurrentPrincipal, OperatorPrincipal, SessionDep
from console_api.api.problems import error_responses
from console_api.api.schemas import ConnectionCreate, ConnectionPublic, ConnectionsPublic, ConnectionUpdate

router = APIRouter(prefix="/connections", tags=["connections"], responses=error_responses(401, 422))


def to_public(row: Connection) -> ConnectionPublic:
    """The API view of a connection row."""
    return ConnectionPublic(
        id=row.id,
        name=row.name,
        kind=row.kind,
        location=row.location,
        agent=row.agent_id,
        config=row.config,
        credential_name=row.credential_name,
        has_secret=row.secret_ref is not None,
        write=row.write_granted,
        created_at=row.created_at,
    )


def _get(session: TenantSession, connection_id: str) -> Connection:
    row = session.get(Connection, connection_id)
    if row is None or row.tenant_id != session.tenant_id:
        raise HTTPException(404, f"connection {connection_id!r} not found")
    return row


def add_connection(session: TenantSession, *, secrets: SecretStore, body: ConnectionCreate) -> Connection:
    """Insert a connection, its cloud secret stored first: the one create path (API and marketplace).

    The secret and the row share the session's outcome: the sealed store writes into the same
    transaction, and Vault removes a secret whose row rolls back.

    Raises:
        HTTPException: 409 when the tenant already has a connection of that name.
        SecretStoreUnavailableError: The secret could not be stored; nothing is created.
    """
    if session.scalar(select(Connection.id).where(Connection.name == body.name)) is not None:
        raise HTTPException(409, f"a connection named {body.name!r} already exists")
    ref = None
    if body.secret is not None:
        ref = secrets.put(session, {k: v.get_secret_value() for k, v in body.secret.items()})
    row = Connection(
        name=body.name,
        kind=body.kind,
        location=body.location,
        agent_id=body.agent,
        config=body.config,
        credential_name=body.credential_name,
        secret_ref=ref,
        write_granted=body.write,
        created_at=utcnow(),
    )
    session.add(row)
    # One transaction with the secret: if the insert fails, neither is kept.
    session.flush()
    return row


@router.post("", response_model=ConnectionPublic, status_code=201, responses=error_responses(403, 409, 503))
def create_connection(
    body: ConnectionCreate, _op: OperatorPrincipal, session: SessionDep, ctx: ContextDep
) -> ConnectionPublic:
    """Create a connection; a cloud secret goes to the secret store (503 when it is unavailable)."""
    return to_public(add_connection(session, secrets=ctx.secrets, body=body))


@router.get("", response_model=ConnectionsPublic)
def list_connections(
    _caller: CurrentPrincipal,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ConnectionsPublic:
    """The tenant's connections by name."""
    rows = session.scalars(select(Connection).order_by(Connection.name).limit(limit).offset(offset)).all()
    return ConnectionsPublic(data=[to_public(r) for r in rows], count=len(rows))


@router.get("/{connection_id}", response_model=ConnectionPublic, responses=error_responses(404))
def read_connection(connection_id: str, _caller: CurrentPrincipal, session: SessionDep) -> ConnectionPublic:
    """One connection."""
    return to_public(_get(session, connection_id))


@router.patch("/{connection_id}", response_model=ConnectionPublic, responses=error_responses(403, 404, 503))
def update_connection(
    connection_id: str, body: ConnectionUpdate, _op: OperatorPrincipal, session: SessionDep, ctx: ContextDep
) -> ConnectionPublic:
    """Change a connection's settings, grant, credential name or (cloud) secret."""
    row = _get(session, connection_id)
    if body.secret is not None and row.location != "cloud":
        raise HTTPException(422, "a local connection's secret stays on its agent; set `credential_name`")
    if body.credential_name is not None and row.location != "local":
        raise HTTPException(422, "`credential_name` applies to local connections only")
    if body.config is not None:
        row.config = body.config
    if body.credential_name is not None:
        row.credential_name = body.credential_name
    if body.write is not None:
        row.write_granted = body.write
    old_ref = None
    if body.secret is not None:
        old_ref = row.secret_ref
        row.secret_ref = ctx.secrets.put(session, {k: v.get_secret_value() for k, v in body.secret.items()})
    if old_ref is not None:
        ctx.secrets.delete(session, old_ref)
    session.flush()
    return to_public(row)


@router.delete(
    "/{connection_id}", status_code=204, response_class=Response, responses=error_responses(403, 404)
)
def delete_connection(
    connection_id: str, _op: OperatorPrincipal, session: SessionDep, ctx: ContextDep
) -> Response:
    """Delete a connection and its sealed secret."""
    row = _get(session, connection_id)
    ref = row.secret_ref
    session.delete(row)
    if ref is not None:
        ctx.secrets.delete(session, ref)
    session.flush()
    return Response(status_code=204)
