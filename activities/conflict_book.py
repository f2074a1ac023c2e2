"""Cloud-side activities over parked conflicts (3.4.3 manual policy); the metadata store is the cloud's.

They carry keys and change values only: the rows stay in the two databases.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from temporalio import activity

from activities.errors import activity_errors
from activities.metadata import close_conflicts, park_conflicts, pending_conflicts, tenant_session
from activities.sync_steps import check_tenant
from workflows import bidi_types as b


class ConflictBook:
    """List, park and close a pipeline's conflicts; one instance per cloud worker."""

    def __init__(self, *, engine: Engine) -> None:
        self.engine = engine

    @activity.defn(name=b.LIST_CONFLICTS)
    def list_conflicts(self, inp: b.ConflictQuery) -> b.OpenConflicts:
        """Keys a run must hold (open) and the resolutions it must apply."""
        with activity_errors():
            check_tenant(inp.tenant)
            with tenant_session(self.engine, inp.tenant) as session:
                rows = pending_conflicts(session, pipeline=inp.pipeline)
                return b.OpenConflicts(
                    parked=tuple(r.row_key for r in rows if r.status == "open"),
                    resolutions=tuple(
                        b.Resolution(conflict_id=r.id, row_key=r.row_key, winner=r.winner)
                        for r in rows
                        if r.status == "resolved"
                    ),
                )

    @activity.defn(name=b.PARK_CONFLICTS)
    def park_conflicts(self, inp: b.ParkInput) -> int:
        """Park a run's new conflicts; a retry parks nothing twice (one row per pipeline and key)."""
        with activity_errors():
            check_tenant(inp.tenant)
            with tenant_session(self.engine, inp.tenant) as session:
                return park_conflicts(
                    session,
                    pipeline=inp.pipeline,
                    left_table=inp.left_table,
                    right_table=inp.right_table,
                    workflow_id=inp.workflow_id,
                    conflicts=[(c.row_key, c.left_version, c.right_version) for c in inp.conflicts],
                )

    @activity.defn(name=b.CLOSE_CONFLICTS)
    def close_conflicts(self, inp: b.CloseInput) -> int:
        """Mark resolutions applied once both sides hold the chosen row."""
        with activity_errors():
            check_tenant(inp.tenant)
            with tenant_session(self.engine, inp.tenant) as session:
                return close_conflicts(session, conflict_ids=inp.conflict_ids)

    def all(self) -> list[Any]:
        """Every activity of this class, for ``Worker(activities=...)``."""
        return [self.list_conflicts, self.park_conflicts, self.close_conflicts]
