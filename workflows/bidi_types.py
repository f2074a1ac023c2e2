"""Inputs, results and activity contracts of the bidirectional sync (Pattern 3.4.3).

The two tables are ``left`` and ``right``; each side's rows stay in its database or in the
encrypted buffer, so these models carry names, cursors, counts, buffer claim checks and (only
for conflicts) key values, never row content.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final, Literal

from pydantic import Field, model_validator

from workflows.contracts import BatchLimits
from workflows.routing import EndpointKind
from workflows.types import BufferRef, Frozen, Identifier

BIDI_COLLECT: Final = "bidi_collect"
BIDI_RECONCILE: Final = "bidi_reconcile"
BIDI_APPLY: Final = "bidi_apply"
BIDI_MARK: Final = "bidi_mark"
LIST_CONFLICTS: Final = "list_sync_conflicts"
PARK_CONFLICTS: Final = "park_sync_conflicts"
CLOSE_CONFLICTS: Final = "close_sync_conflicts"

SideName = Literal["left", "right"]


class ConflictPolicy(StrEnum):
    """What happens to a key both sides changed since the last sync."""

    LAST_WRITER_WINS = "last_writer_wins"
    """The greater change-column value wins; a tie goes to ``tie_winner``."""
    SOURCE_PRIORITY = "source_priority"
    """``priority`` wins every conflict."""
    MANUAL = "manual"
    """The key is parked (``vsc conflicts``); neither side is written for it until a person picks one."""


class BidiSide(Frozen):
    """One of the two tables and where it lives (which decides the queue that reads and writes it)."""

    connection: str = Field(min_length=1)
    table: Identifier
    location: Literal["local", "cloud"] = "local"

    @property
    def endpoint(self) -> EndpointKind:
        """The routing kind of the side's database."""
        return EndpointKind.LOCAL_DB if self.location == "local" else EndpointKind.CLOUD_DB


class BidiInput(Frozen):
    """Input of one :class:`workflows.bidirectional.BidirectionalSync` run (one sync round)."""

    agent: str | None = None
    """Connector id of the agent (group) that reaches the local side(s); required if one is local."""
    pipeline: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")
    """Names the cursors, the shadow tables (``_vsc_bidi_<pipeline>_<side>``) and the parked conflicts."""
    left: BidiSide
    right: BidiSide
    change_column: Identifier | None = None
    """Timestamp or version column every writer advances on each change, on both tables. None:
    change detection by trigger (PostgreSQL sides only; a log table the sync installs, see
    ``activities/bidi_triggers.py``), where the policy cannot be ``last_writer_wins``."""
    policy: ConflictPolicy = ConflictPolicy.LAST_WRITER_WINS
    priority: SideName | None = None
    """The winning side under ``source_priority`` (required there)."""
    tie_winner: SideName = "left"
    """Under ``last_writer_wins``: who wins equal change values, so ties resolve the same everywhere."""
    limits: BatchLimits = BatchLimits()

    @model_validator(mode="after")
    def _priority_named(self) -> BidiInput:
        if self.change_column is None and self.policy is ConflictPolicy.LAST_WRITER_WINS:
            raise ValueError(
                "policy last_writer_wins compares change_column values: name the change_column, or "
                "use source_priority or manual with change detection by trigger (no change_column)"
            )
        if self.policy is ConflictPolicy.SOURCE_PRIORITY and self.priority is None:
            raise ValueError("policy source_priority needs `priority`: left or right")
        if self.left.location == "local" or self.right.location == "local":
            if self.agent is None:
                raise ValueError("a local side needs `agent`, the agent that reaches it")
        return self

    def side(self, name: SideName) -> BidiSide:
        """The side called ``name``."""
        return self.left if name == "left" else self.right


class SideResult(Frozen):
    """What one run did on one side."""

    rows_read: int = 0
    """Rows at or after the side's cursor (plus the rows of resolved conflicts)."""
    changed: int = 0
    """Of those, rows that differ from what the last sync agreed (the side's own edits)."""
    rows_written: int = 0
    """Rows this run inserted or changed on the side (the other side's winning changes)."""
    skipped_changed: int = 0
    """Agreed rows not written because the side changed them after this round read them (lost-update
    guard); the next round reads them as the side's own changes."""
    cursor: Any = None


class BidiResult(Frozen):
    """Outcome of one run; a run after one without edits must show 0 changed and 0 written (no echo)."""

    pattern: str = "3.4.3"
    left: SideResult
    right: SideResult
    conflicts: int = 0
    """Keys both sides changed differently (resolved by policy or parked)."""
    parked: int = 0
    """Conflicts newly parked (manual policy)."""
    held: int = 0
    """Changed keys skipped because a parked conflict on them awaits a person."""
    resolved: int = 0
    """Parked conflicts whose chosen side this run applied."""


class CollectInput(Frozen):
    """Read one side's changes since its cursor into the buffer (``bidi_collect``)."""

    tenant: str
    run_id: str
    side: SideName
    connection: str
    table: Identifier
    shadow_table: Identifier
    change_column: Identifier | None = None
    """None: read the trigger-maintained change log instead (the cursor is then its ``seq``)."""
    since: Any = None
    include_keys: tuple[str, ...] = ()
    """Keys (canonical JSON) read whatever their change value: resolved conflicts being applied."""
    limits: BatchLimits = BatchLimits()


class CollectResult(Frozen):
    """The side's changed rows (a claim check) and its new cursor."""

    buffer: BufferRef
    rows_read: int
    changed: int
    max_cursor: Any = None


class Resolution(Frozen):
    """A parked conflict a person resolved: apply ``winner``'s row for ``row_key``."""

    conflict_id: str
    row_key: str
    winner: SideName


class ConflictRecord(Frozen):
    """A new conflict to park: the key and both change values, never the rows."""

    row_key: str
    left_version: str
    right_version: str


class ReconcileInput(Frozen):
    """Pair both sides' changes by key and decide every key (``bidi_reconcile``)."""

    tenant: str
    run_id: str
    left: BufferRef
    right: BufferRef
    change_column: Identifier | None = None
    policy: ConflictPolicy
    priority: SideName | None = None
    tie_winner: SideName = "left"
    parked: tuple[str, ...] = ()
    """Keys of conflicts still waiting for a person: held whatever changed."""
    resolutions: tuple[Resolution, ...] = ()
    limits: BatchLimits = BatchLimits()


class ReconcileResult(Frozen):
    """The agreed rows both sides apply, and what could not be decided."""

    agreed: BufferRef
    conflicts: int = 0
    new_conflicts: tuple[ConflictRecord, ...] = ()
    held: int = 0
    resolved: tuple[str, ...] = ()
    """Ids of the resolutions whose row is in ``agreed``."""


class ApplyInput(Frozen):
    """The agreed rows for one side: ``bidi_apply`` upserts them, then ``bidi_mark`` records them."""

    tenant: str
    connection: str
    table: Identifier
    shadow_table: Identifier
    agreed: BufferRef
    read: BufferRef | None = None
    """The side's rows this round collected: a row is written only while it still is what the round
    read (these rows, else the shadow's), so a concurrent edit is not overwritten. None: unguarded."""


class ConflictQuery(Frozen):
    """Open (unresolved or resolved-but-not-applied) conflicts of one pipeline."""

    tenant: str
    pipeline: str


class OpenConflicts(Frozen):
    """What the run must hold and what it must apply."""

    parked: tuple[str, ...] = ()
    resolutions: tuple[Resolution, ...] = ()


class ParkInput(Frozen):
    """New conflicts of one run, parked idempotently by (pipeline, key)."""

    tenant: str
    pipeline: str
    left_table: str
    right_table: str
    workflow_id: str
    conflicts: tuple[ConflictRecord, ...]


class CloseInput(Frozen):
    """Resolutions this run applied on both sides."""

    tenant: str
    conflict_ids: tuple[str, ...]
