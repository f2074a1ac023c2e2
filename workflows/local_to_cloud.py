"""Pattern 3.3.1: local database -> encrypted buffer -> cloud transform -> cloud database.

The agent extracts and encrypts chunks into the buffer; the cloud worker decrypts, applies
the declarative transform and upserts. The history carries only ``BufferRef`` claim checks.
The steps are shared with 3.3.2 (:mod:`workflows.buffered`). Only this pattern builds derived
tables (:mod:`workflows.derived`): set-level plans over the run's tables, loaded into the cloud.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

from workflows.buffered import BufferedSync
from workflows.routing import EndpointKind
from workflows.sync_types import SyncResult, SyncState


@workflow.defn(name="LocalToCloudSync")
class LocalToCloudSync(BufferedSync):
    """Move tables from an on-premise database to a cloud database through the buffer."""

    PATTERN = "3.3.1"
    SOURCE = EndpointKind.LOCAL_DB
    DESTINATION = EndpointKind.CLOUD_DB
    DERIVED = True

    @workflow.run
    async def run(self, raw: dict[str, Any]) -> SyncResult:
        """Sync every table of the input; see :class:`workflows.sync_types.SyncInput`."""
        return await self.sync(raw)

    @workflow.query
    def progress(self) -> SyncState:
        """Where the run is: finished tables and the current one's counts."""
        return self.state()
