"""ORM model of the conflicts a bidirectional sync (3.4.3) parked for a person to resolve.

Kept apart from :mod:`activities.metadata._models` so each module stays one family of tables;
it shares :class:`TenantBase`, so the tenant migration branch creates it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from activities.metadata._models import TenantBase, TenantScoped, new_id, utcnow


class SyncConflict(TenantScoped, TenantBase):
    """One key both sides of a pipeline changed differently, under the ``manual`` policy.

    It holds the key and the two change-column values, never row content. ``open`` waits for
    a person; ``resolved`` names the winning side, which the pipeline's next run applies to
    the other side and then marks ``applied``. A later conflict on the same key reopens the row.
    """

    __tablename__ = "sync_conflicts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "pipeline", "row_key"),
        CheckConstraint("status IN ('open', 'resolved', 'applied')", name="status"),
        CheckConstraint("winner IS NULL OR winner IN ('left', 'right')", name="winner"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    pipeline: Mapped[str] = mapped_column(String(40))
    row_key: Mapped[str] = mapped_column(String(1000))
    """The primary-key values as canonical JSON (a list, in key-column order)."""
    left_table: Mapped[str] = mapped_column(String(63))
    right_table: Mapped[str] = mapped_column(String(63))
    left_version: Mapped[str] = mapped_column(String(100))
    right_version: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(8), default="open")
    winner: Mapped[str | None] = mapped_column(String(5))
    workflow_id: Mapped[str] = mapped_column(String(255))
    """The run that parked it."""
    resolved_by: Mapped[str | None] = mapped_column(String(36))
    """Id of the API key that picked the winner."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()
    applied_at: Mapped[datetime | None] = mapped_column()
