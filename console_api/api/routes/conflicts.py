"""Conflicts parked by bidirectional syncs (3.4.3, manual policy): list them, pick a winning side.

A resolution is only recorded here; the pipeline's next run writes the chosen side's row to
the other side and marks the conflict applied. Resolving overwrites data on one side, so it
needs the operator role; listing is open to every role. The session is the caller's tenant's,
so another tenant's conflict id is simply not found.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query

from activities.metadata import (
    ConflictAlreadyAppliedError,
    ConflictNotFoundError,
    ConflictStatus,
    list_conflicts,
    resolve_conflict,
    tenant_session,
)
from console_api.api.deps import ContextDep, CurrentTenant, OperatorPrincipal, SessionDep
from console_api.api.problems import error_responses
from console_api.api.routes.controls import audit
from console_api.api.schemas import ConflictPublic, ConflictResolve, ConflictsPublic

router = APIRouter(prefix="/conflicts", tags=["conflicts"], responses=error_responses(401, 422))
MAX_LIMIT = 1000


@router.get("", response_model=ConflictsPublic)
def list_sync_conflicts(
    _tenant: CurrentTenant,
    session: SessionDep,
    pipeline: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
    status: Annotated[Literal["open", "resolved", "applied", "all"], Query()] = "open",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> ConflictsPublic:
    """The tenant's conflicts, oldest first: the open ones unless ``status`` says otherwise."""
    wanted: ConflictStatus | None = None if status == "all" else status
    rows = list_conflicts(session, pipeline=pipeline, status=wanted, limit=limit)
    data = [ConflictPublic.model_validate(r) for r in rows]
    return ConflictsPublic(data=data, count=len(data))


@router.post(
    "/{conflict_id}/resolve", response_model=ConflictPublic, responses=error_responses(403, 404, 409)
)
def resolve_sync_conflict(
    conflict_id: Annotated[str, Path(min_length=1, max_length=36)],
    body: ConflictResolve,
    caller: OperatorPrincipal,
    ctx: ContextDep,
) -> ConflictPublic:
    """Pick the side whose row wins; choosing again before the next run changes the choice."""
    # Committed before the audit append, which writes through its own connection.
    try:
        with tenant_session(ctx.engine, caller.tenant) as session:
            row = resolve_conflict(session, conflict_id=conflict_id, winner=body.winner, by=caller.key_id)
            out = ConflictPublic.model_validate(row)
    except ConflictNotFoundError:
        raise HTTPException(404, f"conflict {conflict_id!r} not found") from None
    except ConflictAlreadyAppliedError as exc:
        raise HTTPException(409, exc.message) from None
    audit(
        ctx,
        caller,
        action="resolve_conflict",
        target=f"{out.pipeline}:{out.row_key}",
        details={"winner": body.winner, "conflict": conflict_id},
    )
    return out
