"""Incremental-sync cursors, one per (tenant, pipeline, table)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from activities.errors import InvalidInputError
from activities.metadata._models import SyncState, utcnow


def _check_scope(session: Session, tenant_id: str) -> None:
    # Defence in depth: a session opened for one tenant must not read or write another's cursor.
    scoped = session.info.get("tenant_id")
    if scoped != tenant_id:
        raise InvalidInputError(
            f"session is scoped to tenant {scoped!r}, not {tenant_id!r}; open it with tenant_session",
            tenant=tenant_id,
        )


def get_sync_state(session: Session, *, tenant_id: str, pipeline: str, table: str) -> dict[str, Any] | None:
    """Return the saved cursor, or None when the table was never synced.

    Raises:
        InvalidInputError: ``session`` is not a :func:`tenant_session` of ``tenant_id``.
    """
    _check_scope(session, tenant_id)
    row = session.get(SyncState, (tenant_id, pipeline, table))
    return None if row is None else dict(row.cursor)


def save_sync_state(
    session: Session, *, tenant_id: str, pipeline: str, table: str, cursor: dict[str, Any]
) -> None:
    """Insert or replace the cursor; it is committed with the session.

    Raises:
        InvalidInputError: The cursor is not plain JSON, or ``session`` belongs to another tenant.
    """
    _check_scope(session, tenant_id)
    try:
        value = json.loads(json.dumps(cursor, allow_nan=False))
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"sync cursor for pipeline {pipeline!r} table {table!r} is not plain JSON",
            tenant=tenant_id,
            pipeline=pipeline,
            table=table,
        ) from None
    row = session.get(SyncState, (tenant_id, pipeline, table))
    if row is None:
        session.add(
            SyncState(
                tenant_id=tenant_id, pipeline=pipeline, table_name=table, cursor=value, updated_at=utcnow()
            )
        )
    else:
        row.cursor = value
    session.flush()
