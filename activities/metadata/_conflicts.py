"""Parked conflicts of bidirectional syncs: park, list, resolve (a person), close (the next run).

Every function takes a :func:`tenant_session`, which confines reads and writes to its tenant.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from activities.errors import InvalidInputError
from activities.metadata._conflict_models import SyncConflict
from activities.metadata._models import utcnow

ConflictStatus = Literal["open", "resolved", "applied"]


class ConflictNotFoundError(InvalidInputError):
    """No conflict of this id in the caller's tenant."""


class ConflictAlreadyAppliedError(InvalidInputError):
    """The conflict's chosen side was already applied; a new conflict on the key reopens it."""


def park_conflicts(
    session: Session,
    *,
    pipeline: str,
    left_table: str,
    right_table: str,
    workflow_id: str,
    conflicts: Iterable[tuple[str, str, str]],
) -> int:
    """Park ``(row_key, left_version, right_version)`` conflicts; a repeat of the same run changes nothing.

    A key already parked and still open keeps its row (new versions recorded); a key whose
    earlier conflict was applied is reopened. Returns how many keys are newly open.
    """
    wanted = {key: (lv, rv) for key, lv, rv in conflicts}
    existing = {
        row.row_key: row
        for row in session.scalars(
            select(SyncConflict).where(
                SyncConflict.pipeline == pipeline, SyncConflict.row_key.in_(list(wanted))
            )
        )
    }
    opened = 0
    for key, (left_version, right_version) in wanted.items():
        row = existing.get(key)
        if row is None:
            row = SyncConflict(pipeline=pipeline, row_key=key, status="open", workflow_id=workflow_id)
            session.add(row)
            opened += 1
        elif row.status == "applied":
            row.status, row.winner, row.resolved_by = "open", None, None
            row.resolved_at = row.applied_at = None
            row.workflow_id = workflow_id
            opened += 1
        row.left_table, row.right_table = left_table, right_table
        row.left_version, row.right_version = left_version, right_version
    session.flush()
    return opened


def pending_conflicts(session: Session, *, pipeline: str) -> list[SyncConflict]:
    """The pipeline's conflicts a run must respect: ``open`` (hold) and ``resolved`` (apply)."""
    return list(
        session.scalars(
            select(SyncConflict)
            .where(SyncConflict.pipeline == pipeline, SyncConflict.status.in_(("open", "resolved")))
            .order_by(SyncConflict.row_key)
        )
    )


def list_conflicts(
    session: Session,
    *,
    pipeline: str | None = None,
    status: ConflictStatus | None = "open",
    limit: int = 100,
) -> list[SyncConflict]:
    """The tenant's conflicts, oldest first, optionally of one pipeline and one status."""
    query = select(SyncConflict)
    if pipeline is not None:
        query = query.where(SyncConflict.pipeline == pipeline)
    if status is not None:
        query = query.where(SyncConflict.status == status)
    return list(session.scalars(query.order_by(SyncConflict.created_at, SyncConflict.row_key).limit(limit)))


def resolve_conflict(session: Session, *, conflict_id: str, winner: str, by: str) -> SyncConflict:
    """Pick the side whose row wins; the pipeline's next run writes it to the other side.

    Choosing again before that run changes the choice.

    Raises:
        ConflictNotFoundError: No such conflict in this tenant (another tenant's id included).
        ConflictAlreadyAppliedError: The resolution was already applied.
        InvalidInputError: ``winner`` is not ``left`` or ``right``.
    """
    if winner not in ("left", "right"):
        raise InvalidInputError(f"winner must be left or right, not {winner!r}", winner=winner)
    row = session.scalars(select(SyncConflict).where(SyncConflict.id == conflict_id)).one_or_none()
    if row is None:
        raise ConflictNotFoundError(f"conflict {conflict_id!r} not found", conflict=conflict_id)
    if row.status == "applied":
        raise ConflictAlreadyAppliedError(
            f"conflict {conflict_id!r} was already resolved for {row.winner} and applied",
            conflict=conflict_id,
        )
    row.status, row.winner, row.resolved_by, row.resolved_at = "resolved", winner, by, utcnow()
    session.flush()
    return row


def close_conflicts(session: Session, *, conflict_ids: Sequence[str]) -> int:
    """Mark resolved conflicts applied once a run wrote the winner to both sides; idempotent."""
    rows = session.scalars(
        select(SyncConflict).where(SyncConflict.id.in_(list(conflict_ids)), SyncConflict.status == "resolved")
    )
    closed = 0
    for row in rows:
        row.status, row.applied_at = "applied", utcnow()
        closed += 1
    session.flush()
    return closed
