"""Pattern 3.3.2: cloud database -> cloud transform -> encrypted buffer -> agent -> local database.

The cloud worker extracts, applies the declarative transform and seals chunks into the
buffer; the agent downloads, decrypts and upserts them (through the gateway when it has
one, so it holds no buffer credential or master key). The history carries only claim checks.
The steps are shared with 3.3.1 (:mod:`workflows.buffered`).
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

from workflows.buffered import BufferedSync
from workflows.routing import EndpointKind
from workflows.sync_types import SyncResult, SyncState


@workflow.defn(name="CloudToLocalSync")
class CloudToLocalSync(BufferedSync):
    """Move tables from a cloud database to an on-premise database through the buffer."""

    PATTERN = "3.3.2"
    SOURCE = EndpointKind.CLOUD_DB
    DESTINATION = EndpointKind.LOCAL_DB

    @workflow.run
    async def run(self, raw: dict[str, Any]) -> SyncResult:
        """Sync every table of the input; see :class:`workflows.sync_types.SyncInput`."""
        return await self.sync(raw)

    @workflow.query
    def progress(self) -> SyncState:
        """Where the run is: finished tables and the current one's counts."""
        return self.state()
