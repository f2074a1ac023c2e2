"""Inputs and results of every activity, and the activity names workflows call them by.

Workflows refer to activities by name only, so ``workflows/`` never imports the side-effect
code; the activity implementations register under exactly these names.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import Field

from workflows.transform import TransformSpec
from workflows.types import BufferRef, Fingerprint, Frozen, Identifier, TableSchema

COPY_TABLE: Final = "copy_table"
EXTRACT_TO_BUFFER: Final = "extract_to_buffer"
LOAD_FROM_BUFFER: Final = "load_from_buffer"
PURGE_BUFFER: Final = "purge_buffer"
FINGERPRINT_TABLE: Final = "fingerprint_table"
GET_SYNC_STATE: Final = "get_sync_state"
SAVE_SYNC_STATE: Final = "save_sync_state"
RECORD_AUDIT: Final = "record_audit"
READ_CONTROLS: Final = "read_controls"
MERGE_BUFFERS: Final = "merge_buffers"


class TableRead(Frozen):
    """What to read from one source table and where the last activity stopped."""

    connection: str
    table: Identifier
    incremental_column: Identifier | None = None
    since: Any = None
    """Inclusive lower bound on ``incremental_column`` (the cursor saved by the previous run)."""
    after: tuple[Any, ...] | None = None
    """Keyset position: resume strictly after this row of the ordering columns."""
    query: str | None = None
    """A read-only SELECT read under the name ``table`` instead of the table itself."""
    key: tuple[Identifier, ...] = ()
    """Row identity: required with ``query``; otherwise overrides the table's primary key."""


class BatchLimits(Frozen):
    """How much one activity call does before handing back to the workflow."""

    batch_rows: int = Field(default=50_000, ge=1, le=1_000_000)
    max_rows: int = Field(default=2_000_000, ge=1)
    max_seconds: float = Field(default=120.0, gt=0)
    heartbeat_seconds: float = Field(default=30.0, gt=0)
    """A step whose worker stops heartbeating this long is retried elsewhere."""


class CopyTableInput(Frozen):
    """Agent-side streaming copy of one table (Pattern 3.1.1)."""

    tenant: str
    read: TableRead
    destination_connection: str
    destination_table: Identifier
    transform: TransformSpec | None = None
    limits: BatchLimits = BatchLimits()


class StepProgress(Frozen):
    """Heartbeat details and result of a batch step; also how a retried attempt resumes."""

    rows_read: int = 0
    rows_written: int = 0
    batches: int = 0
    after: tuple[Any, ...] | None = None
    max_cursor: Any = None
    done: bool = False


class ExtractToBufferInput(Frozen):
    """Extract of one table into the encrypted buffer: on the agent (3.3.1) or the cloud (3.3.2)."""

    tenant: str
    run_id: str
    read: TableRead
    start_seq: int = 0
    limits: BatchLimits = BatchLimits()
    transform: TransformSpec | None = None
    """Applied before sealing when the plan runs the transform on the extracting side (3.3.2)."""


class ExtractToBufferResult(Frozen):
    """Where the extracted chunks are and how far the extract got."""

    buffer: BufferRef
    progress: StepProgress


class LoadFromBufferInput(Frozen):
    """Idempotent load of buffered chunks (cloud for 3.3.1, agent for 3.3.2), transform optional."""

    tenant: str
    buffer: BufferRef
    destination_connection: str
    destination_table: Identifier
    transform: TransformSpec | None = None


class LoadFromBufferResult(Frozen):
    """Rows applied by a load; ``rows_written`` counts only inserted or changed rows."""

    rows_read: int
    rows_written: int
    table_schema: TableSchema
    complete: bool = True
    """False when a cancel (pause, stop) ended the load early; the chunks after it were not applied."""


class PurgeBufferInput(Frozen):
    """Delete every chunk of a run once it is loaded."""

    tenant: str
    run_id: str


class FingerprintInput(Frozen):
    """Count and content hash of a table (or a query source), for parity checks."""

    tenant: str
    connection: str
    table: Identifier
    query: str | None = None
    key: tuple[Identifier, ...] = ()
    transform: TransformSpec | None = None
    """Hash the rows as this transform would write them, to compare with the destination."""


class FingerprintResult(Frozen):
    """A table's fingerprint."""

    fingerprint: Fingerprint


class SyncStateKey(Frozen):
    """Identifies the incremental cursor of one table of one pipeline."""

    tenant: str
    pipeline: str
    table: Identifier


class SaveSyncStateInput(Frozen):
    """New cursor for one table of one pipeline."""

    key: SyncStateKey
    cursor: Any


class SyncStateResult(Frozen):
    """The saved cursor, or None before the first run."""

    cursor: Any = None


class AuditInput(Frozen):
    """One data-access event for the append-only audit trail."""

    tenant: str
    workflow_id: str
    run_id: str
    activity: str
    action: str
    target: str
    rows: int = 0
    outcome: str = "ok"


class ReadControlsInput(Frozen):
    """Which control flags concern a run: its tenant, the connections it touches and its agent (group)."""

    tenant: str
    connections: tuple[str, ...]
    agent: str


class ReadControlsResult(Frozen):
    """The flags set on any of them; an empty ``paused_by`` means the run may proceed."""

    paused_by: tuple[str, ...] = ()


class MergeBuffersInput(Frozen):
    """Fan-in merge (3.4.2): buffered extracts of several sources, deduplicated by key, into one buffer."""

    tenant: str
    run_id: str
    sources: tuple[tuple[BufferRef, ...], ...]
    """Per source, in priority order, the refs of its extract steps."""
    key: tuple[Identifier, ...]
    version_column: Identifier | None = None
    start_seq: int = 0


class MergeBuffersResult(Frozen):
    """The merged rows' claim check, what each source kept, and their fingerprint."""

    buffer: BufferRef
    kept: tuple[int, ...]
    """Rows of each source that won their key."""
    fingerprint: Fingerprint
