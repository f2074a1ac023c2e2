"""The 3.4.3 activities through ActivityEnvironment: an apply re-run writes nothing twice, no echoes."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.bidi_policy import Change, decide
from activities.bidi_steps import BidiSteps
from activities.buffer import BufferStore, DirectoryBackend
from activities.connections import ConnectionRegistry
from activities.crypto import LocalKeyring
from tests.workflows.test_bidirectional import T1, content_hash, edits, expected, initial, state_of, write
from workflows import bidi_types as b
from workflows.queues import agent_queue

TENANT = "acme"
QUEUE = agent_queue(TENANT, "edge-1")
SIDES: tuple[b.SideName, ...] = ("left", "right")


@pytest.fixture
def bidi(tmp_path: Path, pg_database: Callable[[str], str]) -> tuple[BidiSteps, str, str]:
    """Two equal tables, a baseline round synced (both shadows marked), then both sides edited."""
    left, right = pg_database("left"), pg_database("right")
    write(left, initial(), create=True)
    write(right, initial(), create=True)
    registry = ConnectionRegistry.from_list(
        [
            {"name": "l", "kind": "postgresql", "url": left, "write": True},
            {"name": "r", "kind": "postgresql", "url": right, "write": True},
        ]
    )
    buffer = BufferStore(
        backend=DirectoryBackend(tmp_path / "buffer"), keyring=LocalKeyring(tmp_path / "k", b"k" * 32)
    )
    steps = BidiSteps(connections=lambda: registry, buffer=buffer)
    baseline = reconcile(steps, "r0")
    assert baseline.conflicts == 0 and baseline.agreed.rows == 1000
    for side in SIDES:
        assert apply(steps, side, baseline.agreed) == 0
        assert apply(steps, side, baseline.agreed, activity="mark") == 1000
    left_edits, right_edits = edits()
    write(left, left_edits)
    write(right, right_edits)
    return steps, left, right


def activity_env(*, heartbeat: object | None = None) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info, task_queue=QUEUE, heartbeat_details=[heartbeat] if heartbeat is not None else []
    )
    return env


def collect(steps: BidiSteps, side: b.SideName, run: str) -> b.CollectResult:
    inp = b.CollectInput(
        tenant=TENANT, run_id=f"{run}.{side}", side=side, connection=side[0], table="items",
        shadow_table=f"_vsc_bidi_t_{side}", change_column="updated_at", limits=b.BatchLimits(batch_rows=100),
    )  # fmt: skip
    return activity_env().run(steps.collect, inp)


def reconcile(steps: BidiSteps, run: str) -> b.ReconcileResult:
    """Collect both sides from scratch (no cursor) and reconcile them, last writer wins."""
    return reconciled(steps, run)[0]


def reconciled(steps: BidiSteps, run: str) -> tuple[b.ReconcileResult, dict[b.SideName, b.BufferRef]]:
    """As :func:`reconcile`, with each side's collected rows (what the round read)."""
    lres, rres = collect(steps, "left", run), collect(steps, "right", run)
    inp = b.ReconcileInput(
        tenant=TENANT, run_id=f"{run}.agreed", left=lres.buffer, right=rres.buffer,
        change_column="updated_at", policy=b.ConflictPolicy.LAST_WRITER_WINS,
        limits=b.BatchLimits(batch_rows=300),
    )  # fmt: skip
    return activity_env().run(steps.reconcile, inp), {"left": lres.buffer, "right": rres.buffer}


def apply(
    steps: BidiSteps,
    side: b.SideName,
    agreed: b.BufferRef,
    *,
    heartbeat: object | None = None,
    activity: str = "apply",
    read: b.BufferRef | None = None,
) -> int:
    inp = b.ApplyInput(
        tenant=TENANT, connection=side[0], table="items", shadow_table=f"_vsc_bidi_t_{side}", agreed=agreed,
        read=read,
    )  # fmt: skip
    fn = steps.apply if activity == "apply" else steps.mark
    return activity_env(heartbeat=heartbeat).run(fn, inp)


def converged(steps: BidiSteps, left: str, right: str, run: str) -> None:
    want, _ = expected("last_writer_wins")
    assert state_of(left) == state_of(right) == content_hash(want.values())
    assert (collect(steps, "left", run).changed, collect(steps, "right", run).changed) == (0, 0)


def test_an_apply_run_again_writes_nothing_and_the_next_collect_sees_no_echo(bidi) -> None:
    steps, left, right = bidi
    rec = reconcile(steps, "r1")
    assert rec.conflicts == 100 and rec.agreed.rows == 410 and len(rec.agreed.chunks) == 2
    assert apply(steps, "right", rec.agreed) == 210
    assert apply(steps, "right", rec.agreed) == 0  # a retry after a crash past the commit
    assert apply(steps, "right", rec.agreed, heartbeat=[1, 7]) == 7  # resumes after chunk 1
    assert apply(steps, "left", rec.agreed) == 190
    for side in SIDES:
        assert apply(steps, side, rec.agreed, activity="mark") == 410
    converged(steps, left, right, "r2")


def test_a_round_that_died_after_one_apply_converges_on_the_next(bidi) -> None:
    steps, left, right = bidi
    died = reconcile(steps, "r1")
    assert apply(steps, "right", died.agreed) == 210  # ... and the round ends here: nothing marked
    again = reconcile(steps, "r2")
    # The right now holds the left's winners (agreed, no conflict); only the right-newer 40 conflict.
    assert again.conflicts == 40
    assert apply(steps, "left", again.agreed) == 190 and apply(steps, "right", again.agreed) == 0
    for side in SIDES:
        apply(steps, side, again.agreed, activity="mark")
    converged(steps, left, right, "r3")


def test_an_edit_made_after_the_read_is_not_overwritten_and_syncs_next_round(bidi) -> None:
    steps, left, right = bidi
    rec, read = reconciled(steps, "r1")
    # Between the round's read and its apply, users edit a key the other side won on each side:
    # 151 (the right's edit wins, the left had not changed it) and 1 (the reverse).
    late = T1 + timedelta(days=1)
    on_left, on_right = {151: (151, "late-left", 5, late)}, {1: (1, "late-right", 6, late)}
    write(left, on_left)
    write(right, on_right)
    assert apply(steps, "left", rec.agreed, read=read["left"]) == 190 - 1
    assert apply(steps, "right", rec.agreed, read=read["right"]) == 210 - 1
    for side in SIDES:  # a retry: still nothing overwritten, nothing written twice
        assert apply(steps, side, rec.agreed, read=read[side]) == 0
    for side in SIDES:  # the late edits are not marked agreed: 410 - 1 marked on each side
        assert apply(steps, side, rec.agreed, activity="mark", read=read[side]) == 409
    want, _ = expected("last_writer_wins")
    assert state_of(left) == content_hash({**want, **on_left}.values())
    assert state_of(right) == content_hash({**want, **on_right}.values())
    nxt, read = reconciled(steps, "r2")
    assert (nxt.agreed.rows, nxt.conflicts) == (2, 0)  # the next round reads exactly the two edits
    assert apply(steps, "left", nxt.agreed, read=read["left"]) == 1
    assert apply(steps, "right", nxt.agreed, read=read["right"]) == 1
    for side in SIDES:
        assert apply(steps, side, nxt.agreed, activity="mark", read=read[side]) == 2
    final = content_hash({**want, **on_left, **on_right}.values())
    assert state_of(left) == state_of(right) == final
    assert (collect(steps, "left", "r3").changed, collect(steps, "right", "r3").changed) == (0, 0)


def test_last_writer_wins_orders_versions_and_breaks_ties_by_side() -> None:
    def change(version: object) -> Change:
        return Change(row={}, digest="", version=version)

    lww = b.ConflictPolicy.LAST_WRITER_WINS
    assert decide(change(2), change(1), policy=lww, priority=None, tie_winner="right") == "left"
    assert decide(change(1), change(2), policy=lww, priority=None, tie_winner="left") == "right"
    assert decide(change(3), change(3), policy=lww, priority=None, tie_winner="right") == "right"
    assert decide(change(None), change(0), policy=lww, priority=None, tie_winner="left") == "right"
    prio = b.ConflictPolicy.SOURCE_PRIORITY
    assert decide(change(9), change(1), policy=prio, priority="right", tie_winner="left") == "right"
    assert (
        decide(change(9), change(1), policy=b.ConflictPolicy.MANUAL, priority=None, tie_winner="left") is None
    )


def test_trigger_mode_is_refused_on_sqlite_and_without_a_policy_that_needs_no_change_column(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'side.db'}"
    with sqlite3.connect(tmp_path / "side.db") as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    registry = ConnectionRegistry.from_list([{"name": "s", "kind": "sqlite", "url": url, "write": True}])
    keyring = LocalKeyring(tmp_path / "k", b"k" * 32)
    buffer = BufferStore(backend=DirectoryBackend(tmp_path / "buffer"), keyring=keyring)
    steps = BidiSteps(connections=lambda: registry, buffer=buffer)
    inp = b.CollectInput(
        tenant=TENANT,
        run_id="r.left",
        side="left",
        connection="s",
        table="notes",
        shadow_table="_vsc_bidi_t_left",
    )
    with pytest.raises(ApplicationError, match="supported on PostgreSQL only") as info:
        activity_env().run(steps.collect, inp)
    assert info.value.type == "InvalidInputError" and info.value.non_retryable
    side = {"connection": "c", "table": "notes", "location": "cloud"}
    with pytest.raises(ValidationError, match="last_writer_wins compares change_column"):
        b.BidiInput(pipeline="p", left=side, right=side)
