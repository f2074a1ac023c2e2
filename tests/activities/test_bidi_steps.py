"""The 3.4.3 activities through ActivityEnvironment: an apply re-run writes nothing twice, no echoes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.bidi_steps import BidiSteps, Change, decide
from activities.buffer import BufferStore, DirectoryBackend
from activities.connections import ConnectionRegistry
from activities.crypto import LocalKeyring
from tests.workflows.test_bidirectional import edits, initial, state_of, write
from workflows import bidi_types as b
from workflows.queues import agent_queue

TENANT = "acme"
QUEUE = agent_queue(TENANT, "edge-1")


@pytest.fixture
def bidi(tmp_path: Path, pg_database: Callable[[str], str]) -> tuple[BidiSteps, str, str]:
    left, right = pg_database("left"), pg_database("right")
    write(left, initial(), create=True)
    write(right, initial(), create=True)
    write(left, edits()[0])
    registry = ConnectionRegistry.from_list(
        [
            {"name": "l", "kind": "postgresql", "url": left, "write": True},
            {"name": "r", "kind": "postgresql", "url": right, "write": True},
        ]
    )
    buffer = BufferStore(
        backend=DirectoryBackend(tmp_path / "buffer"), keyring=LocalKeyring(tmp_path / "k", b"k" * 32)
    )
    return BidiSteps(connections=lambda: registry, buffer=buffer), left, right


def activity_env(queue: str, *, heartbeat: object | None = None) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info, task_queue=queue, heartbeat_details=[heartbeat] if heartbeat is not None else []
    )
    return env


def collect(steps: BidiSteps, side: b.SideName, run: str) -> b.CollectResult:
    env = activity_env(QUEUE)
    inp = b.CollectInput(
        tenant=TENANT, run_id=f"{run}.{side}", side=side, connection=side[0], table="items",
        shadow_table=f"_vsc_bidi_t_{side}", change_column="updated_at", limits=b.BatchLimits(batch_rows=100),
    )  # fmt: skip
    return env.run(steps.collect, inp)


def apply(steps: BidiSteps, side: b.SideName, agreed: b.BufferRef, heartbeat: object | None = None) -> int:
    env = activity_env(QUEUE, heartbeat=heartbeat)
    inp = b.ApplyInput(
        tenant=TENANT, connection=side[0], table="items", shadow_table=f"_vsc_bidi_t_{side}", agreed=agreed
    )
    return env.run(steps.apply, inp)


def test_an_apply_run_again_writes_nothing_and_the_next_collect_sees_no_echo(bidi) -> None:
    steps, left, right = bidi
    lres, rres = collect(steps, "left", "r1"), collect(steps, "right", "r1")
    assert (lres.changed, rres.changed) == (1000, 1000)  # no agreed baseline yet
    env = activity_env(QUEUE)
    rec = env.run(
        steps.reconcile,
        b.ReconcileInput(
            tenant=TENANT, run_id="r1.agreed", left=lres.buffer, right=rres.buffer,
            change_column="updated_at", policy=b.ConflictPolicy.LAST_WRITER_WINS,
            limits=b.BatchLimits(batch_rows=300),
        ),
    )  # fmt: skip
    assert rec.conflicts == 260 and rec.agreed.rows == 1000 and len(rec.agreed.chunks) == 4
    assert apply(steps, "right", rec.agreed) == 260
    assert apply(steps, "right", rec.agreed) == 0  # a retry after a crash past the commit
    assert apply(steps, "right", rec.agreed, heartbeat=[2, 7]) == 7  # resumes after chunk 2
    assert apply(steps, "left", rec.agreed) == 0
    assert state_of(left) == state_of(right)
    assert (collect(steps, "left", "r2").changed, collect(steps, "right", "r2").changed) == (0, 0)


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
