"""TESTPLAN R9: every workflow type replays deterministically from committed histories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from workflows.converter import DATA_CONVERTER
from workflows.registry import ALL_WORKFLOWS

HISTORIES = Path(__file__).parent / "histories"


def histories() -> list[Path]:
    return sorted(HISTORIES.glob("*/*.json"))


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, json.loads(path.read_text()))


def test_every_workflow_type_has_a_history() -> None:
    names = {
        workflow.defn_name(w) if hasattr(workflow, "defn_name") else w.__temporal_workflow_definition.name
        for w in ALL_WORKFLOWS
    }
    covered = {p.parent.name for p in histories()}
    assert names <= covered, f"workflow types without a committed history: {sorted(names - covered)}"


@pytest.mark.parametrize("path", histories(), ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_replay_history(path: Path) -> None:
    replayer = Replayer(workflows=ALL_WORKFLOWS, data_converter=DATA_CONVERTER)
    await replayer.replay_workflow(load(path))


@workflow.defn(name="LocalToLocalSync")
class ChangedLocalToLocalSync:
    """A deliberately changed copy: it starts a timer the recorded history never had."""

    @workflow.run
    async def run(self, raw: dict) -> None:
        await workflow.sleep(1)


async def test_replay_negative_control_detects_nondeterminism() -> None:
    path = next(p for p in histories() if p.parent.name == "LocalToLocalSync" and p.stem.startswith("full_"))
    replayer = Replayer(workflows=[ChangedLocalToLocalSync], data_converter=DATA_CONVERTER)
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(load(path))


def test_every_control_branch_has_a_history() -> None:
    """Pause/resume, the flag gate, events (incl. signal-with-start), cancel and terminate while paused."""
    signals: dict[str, set[str]] = {}
    endings: set[str] = set()
    for path in histories():
        for event in load(path).events:
            if event.HasField("workflow_execution_signaled_event_attributes"):
                name = event.workflow_execution_signaled_event_attributes.signal_name
                signals.setdefault(name, set()).add(path.parent.name)
            if path.stem.endswith("_while_paused"):
                endings.add(event.WhichOneof("attributes") or "")
    assert signals["pause"] == {"LocalToLocalSync", "LocalToCloudSync", "CloudToLocalSync"}
    assert {"resume", "event"} <= set(signals)
    assert {
        "workflow_execution_canceled_event_attributes",
        "workflow_execution_terminated_event_attributes",
    } <= endings
