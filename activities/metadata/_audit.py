"""The one audit writer: append-only, hash-chained, serialised per tenant.

Appends lock the tenant's ``audit_heads`` row (SELECT ... FOR UPDATE on PostgreSQL; BEGIN
IMMEDIATE on SQLite), so ``seq`` is gapless and each event links to the one before it.
The head row also records the last seq and hash, which lets :meth:`AuditWriter.verify`
notice events removed from the end of the log.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Engine, Row, Table, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from activities.errors import InvalidInputError, TenantNotFoundError
from activities.metadata._audit_models import (
    EVENT_FIELDS,
    GENESIS_HASH,
    AuditEvent,
    AuditRecord,
    AuditVerification,
    chain_hash,
)
from activities.metadata._engine import SQLITE_BEGIN_OPTION, scoped_engine
from activities.metadata._errors import map_metadata_errors
from activities.metadata._models import AuditHead, Tenant, WorkflowExecutionEvent, as_utc, utcnow
from activities.metadata._naming import validate_tenant_id

_EVENTS = cast(Table, WorkflowExecutionEvent.__table__)
_HEADS = cast(Table, AuditHead.__table__)
_TENANTS = cast(Table, Tenant.__table__)
MAX_QUERY_LIMIT = 1000


class AuditWriter:
    """Appends, verifies and reads tenants' audit logs.

    Args:
        engine: A metadata-store engine from :func:`make_engine`.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @contextmanager
    def _transaction(self, tenant_id: str, *, write: bool) -> Iterator[Connection]:
        validate_tenant_id(tenant_id)
        engine = scoped_engine(self._engine, tenant_id)
        options: dict[str, Any] = {}
        if engine.dialect.name == "sqlite":
            options[SQLITE_BEGIN_OPTION] = "IMMEDIATE" if write else "DEFERRED"
        elif not write:
            # One snapshot for the events and the head, so a concurrent append is no false alarm.
            options["isolation_level"] = "REPEATABLE READ"
        with engine.connect() as conn:
            conn.execution_options(**options)
            with conn.begin():
                if conn.scalar(select(_TENANTS.c.id).where(_TENANTS.c.id == tenant_id)) is None:
                    raise TenantNotFoundError(f"tenant {tenant_id!r} is not provisioned", tenant=tenant_id)
                yield conn

    def append(self, tenant_id: str, event: AuditEvent) -> int:
        """Append ``event`` to the tenant's chain.

        Returns:
            The event's seq: 1 for a tenant's first event, then gapless.

        Raises:
            TenantNotFoundError: The tenant was never provisioned.
            TransientDatabaseError: Lock timeout or lost connection; safe to retry.
        """
        with map_metadata_errors("append an audit event", tenant=tenant_id):
            with self._transaction(tenant_id, write=True) as conn:
                last_seq, last_hash = self._lock_head(conn, tenant_id)
                seq, now = last_seq + 1, utcnow()
                fields = event.model_dump()
                digest = chain_hash(
                    tenant_id=tenant_id, seq=seq, occurred_at=now, fields=fields, prev_hash=last_hash
                )
                conn.execute(
                    insert(_EVENTS).values(
                        tenant_id=tenant_id,
                        seq=seq,
                        occurred_at=now,
                        prev_hash=last_hash,
                        hash=digest,
                        **fields,
                    )
                )
                conn.execute(
                    update(_HEADS)
                    .where(_HEADS.c.tenant_id == tenant_id)
                    .values(last_seq=seq, last_hash=digest, updated_at=now)
                )
        return seq

    @staticmethod
    def _lock_head(conn: Connection, tenant_id: str) -> tuple[int, str]:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(
            dialect.insert(_HEADS)
            .values(tenant_id=tenant_id, last_seq=0, last_hash=GENESIS_HASH, updated_at=utcnow())
            .on_conflict_do_nothing(index_elements=["tenant_id"])
        )
        # The row lock is what serialises appenders on PostgreSQL; SQLite already holds the
        # database write lock from BEGIN IMMEDIATE and ignores FOR UPDATE.
        head = conn.execute(
            select(_HEADS.c.last_seq, _HEADS.c.last_hash)
            .where(_HEADS.c.tenant_id == tenant_id)
            .with_for_update()
        ).one()
        return int(head.last_seq), str(head.last_hash)

    def verify(self, tenant_id: str) -> AuditVerification:
        """Walk the tenant's chain and report the first event that cannot be trusted.

        Detects altered events (hash mismatch), removed or reordered events (seq gap or broken
        link) and a removed tail (fewer events than the head row recorded).

        Raises:
            TenantNotFoundError: The tenant was never provisioned.
        """
        with map_metadata_errors("verify the audit log", tenant=tenant_id):
            with self._transaction(tenant_id, write=False) as conn:
                # Stream: a tenant's log can outgrow memory; the chain is checked row by row.
                rows = conn.execute(
                    select(_EVENTS)
                    .where(_EVENTS.c.tenant_id == tenant_id)
                    .order_by(_EVENTS.c.seq)
                    .execution_options(yield_per=1000)
                )
                prev_hash, count = GENESIS_HASH, 0
                for row in rows:
                    problem = _check_row(
                        row, tenant_id=tenant_id, expected_seq=count + 1, prev_hash=prev_hash
                    )
                    if problem is not None:
                        return AuditVerification(
                            ok=False, count=count, first_bad_seq=count + 1, reason=problem
                        )
                    prev_hash, count = row.hash, count + 1
                head = conn.execute(select(_HEADS).where(_HEADS.c.tenant_id == tenant_id)).one_or_none()
        last_seq, last_hash = (0, GENESIS_HASH) if head is None else (head.last_seq, head.last_hash)
        if last_seq > count:
            reason = f"events {count + 1}..{last_seq} are missing from the end of the log"
            return AuditVerification(ok=False, count=count, first_bad_seq=count + 1, reason=reason)
        if last_seq < count or last_hash != prev_hash:
            reason = f"the log's end does not match the recorded head (seq {last_seq})"
            return AuditVerification(ok=False, count=count, first_bad_seq=last_seq + 1, reason=reason)
        return AuditVerification(ok=True, count=count)

    def query(
        self,
        tenant_id: str,
        *,
        workflow_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[AuditRecord]:
        """Read a tenant's events in seq order; ``since`` is inclusive, ``until`` exclusive.

        Raises:
            InvalidInputError: ``limit`` is outside 1..1000.
            TenantNotFoundError: The tenant was never provisioned.
        """
        if not 1 <= limit <= MAX_QUERY_LIMIT:
            raise InvalidInputError(
                f"audit query limit must be 1..{MAX_QUERY_LIMIT}, got {limit}", limit=limit
            )
        stmt = select(_EVENTS).where(_EVENTS.c.tenant_id == tenant_id)
        if workflow_id is not None:
            stmt = stmt.where(_EVENTS.c.workflow_id == workflow_id)
        if since is not None:
            stmt = stmt.where(_EVENTS.c.occurred_at >= as_utc(since))
        if until is not None:
            stmt = stmt.where(_EVENTS.c.occurred_at < as_utc(until))
        with map_metadata_errors("query the audit log", tenant=tenant_id):
            with self._transaction(tenant_id, write=False) as conn:
                rows = conn.execute(stmt.order_by(_EVENTS.c.seq).limit(limit)).all()
        return [
            AuditRecord.model_validate(
                {
                    **{k: v for k, v in row._mapping.items() if k != "id"},
                    "occurred_at": as_utc(row.occurred_at),
                }
            )
            for row in rows
        ]


def _check_row(row: Row[Any], *, tenant_id: str, expected_seq: int, prev_hash: str) -> str | None:
    if row.seq != expected_seq:
        return f"event seq {expected_seq} is missing or out of order (found seq {row.seq})"
    if row.prev_hash != prev_hash:
        return f"event seq {row.seq} does not link to the event before it"
    recomputed = chain_hash(
        tenant_id=tenant_id,
        seq=row.seq,
        occurred_at=row.occurred_at,
        fields={name: row._mapping[name] for name in EVENT_FIELDS},
        prev_hash=row.prev_hash,
    )
    if recomputed != row.hash:
        return f"event seq {row.seq} was altered (hash mismatch)"
    return None
