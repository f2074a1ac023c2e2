"""Two builds of one workflow type, incompatible on purpose, for the versioning tests.

Kept apart from the test module so the workflow sandbox imports only this small file.
"""

from __future__ import annotations

from temporalio import workflow

GATE = "VersionGate"


@workflow.defn(name=GATE)
class GateA:
    """Build A: waits for ``open`` (finish) or ``again`` (continue-as-new as the sync loop does)."""

    def __init__(self) -> None:
        self.signal = ""

    @workflow.run
    async def run(self, continued: bool) -> str:
        await workflow.wait_condition(lambda: bool(self.signal))
        if self.signal == "again":
            workflow.continue_as_new(
                True, initial_versioning_behavior=workflow.ContinueAsNewVersioningBehavior.AUTO_UPGRADE
            )
        return f"a:{continued}"

    @workflow.signal
    def open(self) -> None:
        self.signal = "open"

    @workflow.signal
    def again(self) -> None:
        self.signal = "again"

    @workflow.update
    def build(self) -> str:
        return "a"


@workflow.defn(name=GATE)
class GateB:
    """Build B: a timer before the wait, so A's histories do not replay on it."""

    def __init__(self) -> None:
        self.signal = ""

    @workflow.run
    async def run(self, continued: bool) -> str:
        await workflow.sleep(0.01)
        await workflow.wait_condition(lambda: bool(self.signal))
        return f"b:{continued}"

    @workflow.signal
    def open(self) -> None:
        self.signal = "open"

    @workflow.signal
    def again(self) -> None:
        self.signal = "again"

    @workflow.update
    def build(self) -> str:
        return "b"
