"""How the bidirectional sync (3.4.3) decides a key both sides changed differently.

Pure functions over the two sides' changed rows, so every replay and retry decides the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from activities.sql.values import to_json_value
from workflows import bidi_types as b
from workflows.types import ColumnSchema


@dataclass(frozen=True)
class Change:
    """One side's changed row, as reconcile holds it."""

    row: dict[str, Any]
    digest: str
    version: Any


def version_text(column: ColumnSchema | None, version: Any) -> str:
    """A conflict's change value as the console shows it ('' in trigger mode: no change column)."""
    return "" if column is None else str(to_json_value(column.type, version))


def _order(version: Any) -> tuple[bool, Any]:
    return (version is not None, version)


def decide(
    left: Change, right: Change, *, policy: b.ConflictPolicy, priority: str | None, tie_winner: str
) -> str | None:
    """The side whose row wins a conflict, or None when the policy parks it for a person."""
    if policy is b.ConflictPolicy.MANUAL:
        return None
    if policy is b.ConflictPolicy.SOURCE_PRIORITY:
        assert priority is not None
        return priority
    lv, rv = _order(left.version), _order(right.version)
    if lv == rv:
        return tie_winner
    return "left" if lv > rv else "right"
