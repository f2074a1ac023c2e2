"""Pause, resume and event signals of the sync workflows, and the gate every step passes.

The metadata store's control flags are the truth; signals only make a run notice them at once.
A ``pause`` signal cancels the run's in-flight batch activity, which stops at its next batch
boundary and returns how far it got (so nothing is redone), and holds the run until a matching
``resume``. Before every step the run also reads the flags itself (a cheap local activity on
the cloud worker), so a run started while a flag is set, by a schedule or the stock CLI, waits
too; while waiting it re-reads them on every signal and every :data:`POLL`.

An ``event`` (a webhook delivery, ...) that arrives after a pass has begun reading makes the
run do one more pass when this one ends; many events coalesce into that one pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, CancelledError
from temporalio.workflow import ActivityCancellationType

from workflows import contracts as c
from workflows.sync_types import ControlSignal, RunControls, SyncInput, WorkflowEvent

CONTROLS_PATCH = "control-flags"
"""Runs recorded before control flags existed replay without the gate (``workflow.patched``)."""
POLL = timedelta(seconds=30)
"""How often a run held only by a flag re-reads the flags (a signal wakes it at once)."""
_READ_TIMEOUT = timedelta(seconds=10)

T = TypeVar("T")


class StepInterrupted(Exception):
    """A pause cancelled a step's activity before any worker ran it; the loop re-runs the step."""


def concerns(sig: ControlSignal, inp: SyncInput) -> bool:
    """Whether a flag of this scope and name applies to a run with input ``inp``."""
    if sig.scope == "connection":
        return sig.name in (inp.source_connection, inp.destination_connection)
    if sig.scope == "agent":
        return sig.name == inp.agent
    return True


def label(sig: ControlSignal) -> str:
    """How a hold shows in the progress query: ``tenant``, ``execution`` or ``<scope>:<name>``."""
    return f"{sig.scope}:{sig.name}" if sig.scope in ("connection", "agent") else sig.scope


class Controls:
    """The run's control state: signal handlers change it, the loop's gate waits on it."""

    def __init__(self) -> None:
        self.state = RunControls()
        self.inp: SyncInput | None = None
        self.tenant = ""
        self.enabled = False
        self.inflight: asyncio.Task[Any] | None = None
        self._started: Callable[[], bool] = lambda: False
        self._early: list[Callable[[], None]] = []
        self._nudges = 0

    def bind(self, *, inp: SyncInput, tenant: str, started: Callable[[], bool]) -> None:
        """Attach the run's input; signals that arrived before it (signal-with-start) apply now.

        Args:
            inp: The validated input, whose state carries the controls of the run before.
            tenant: The run's tenant, for reading its flags.
            started: Whether the current pass has begun reading (an event then needs a new pass).
        """
        self.enabled = workflow.patched(CONTROLS_PATCH)
        self.inp, self.tenant, self._started = inp, tenant, started
        self.state = inp.state.controls
        for apply in self._early:
            apply()
        self._early.clear()

    def _apply(self, change: Callable[[], None]) -> None:
        if self.inp is None:
            self._early.append(change)
        else:
            change()

    def pause(self, sig: ControlSignal) -> None:
        """Hold the run (if ``sig`` concerns it) and stop its in-flight batch at the next boundary."""

        def change() -> None:
            kept = tuple(h for h in self.state.holds if (h.scope, h.name) != (sig.scope, sig.name))
            self.state = self.state.model_copy(update={"holds": (*kept, sig)})
            self._nudges += 1
            if self.concerned(sig) and self.inflight is not None and not self.inflight.done():
                self.inflight.cancel()

        self._apply(change)

    def resume(self, sig: ControlSignal) -> None:
        """Lift the pause of the same scope and name; the gate then re-reads the flags."""

        def change() -> None:
            kept = tuple(h for h in self.state.holds if (h.scope, h.name) != (sig.scope, sig.name))
            self.state = self.state.model_copy(update={"holds": kept})
            self._nudges += 1

        self._apply(change)

    def event(self, ev: WorkflowEvent) -> None:
        """Count the event; if this pass already began reading, ask for one more pass."""

        def change() -> None:
            self.state = self.state.model_copy(
                update={
                    "events": self.state.events + 1,
                    "last_delivery_id": ev.delivery_id,
                    "last_event_source": ev.source,
                    "rerun": self.state.rerun or self._started(),
                }
            )

        self._apply(change)

    def concerned(self, sig: ControlSignal) -> bool:
        """Whether ``sig`` applies to this run (False before the input is known)."""
        return self.inp is not None and concerns(sig, self.inp)

    def stopping(self) -> bool:
        """A pause signal holds the run or the run is being cancelled: start no further write."""
        held = any(self.concerned(h) for h in self.state.holds)
        return held or workflow.cancellation_reason() is not None

    async def gate(self) -> None:
        """Return once nothing pauses the run: no held pause signal and no flag in the store."""
        if not self.enabled:
            return
        while True:
            held = self._held()
            flagged: tuple[str, ...] = ()
            if not held:
                flagged = await self._read_flags()
                held = self._held()  # a pause signalled during the read
            paused_by = held or flagged
            if not paused_by:
                if self.state.paused:
                    self.state = self.state.model_copy(update={"paused": False, "paused_by": ()})
                return
            self.state = self.state.model_copy(update={"paused": True, "paused_by": paused_by})
            await self._wait_for_nudge(poll=None if held else POLL)

    def _held(self) -> tuple[str, ...]:
        return tuple(label(h) for h in self.state.holds if self.concerned(h))

    async def _wait_for_nudge(self, *, poll: timedelta | None) -> None:
        seen = self._nudges
        try:
            await workflow.wait_condition(lambda: self._nudges != seen, timeout=poll)
        except TimeoutError:
            pass

    async def _read_flags(self) -> tuple[str, ...]:
        assert self.inp is not None
        res = await workflow.execute_local_activity(
            c.READ_CONTROLS,
            c.ReadControlsInput(
                tenant=self.tenant,
                connections=(self.inp.source_connection, self.inp.destination_connection),
                agent=self.inp.agent,
            ),
            result_type=c.ReadControlsResult,
            start_to_close_timeout=_READ_TIMEOUT,
        )
        return res.paused_by

    async def step_activity(
        self, activity: str, arg: Any, *, result_type: type[T], task_queue: str, options: dict[str, Any]
    ) -> T:
        """Run a batch activity that a pause or a cancel stops at its next batch boundary.

        The activity returns its progress when cancelled, and the run waits for that
        (``WAIT_CANCELLATION_COMPLETED``), so rows it committed are accounted for exactly.

        Raises:
            asyncio.CancelledError: The workflow itself is being cancelled.
            StepInterrupted: A pause cancelled the activity before it started.
        """
        if not self.enabled:
            return await workflow.execute_activity(
                activity, arg, result_type=result_type, task_queue=task_queue, **options
            )
        handle = workflow.start_activity(
            activity,
            arg,
            result_type=result_type,
            task_queue=task_queue,
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            **options,
        )
        self.inflight = handle
        try:
            result = await handle
        except ActivityError as err:
            # Cancelled before a worker picked it up (e.g. its agent is offline): nothing was done.
            if isinstance(err.cause, CancelledError) and workflow.cancellation_reason() is None:
                raise StepInterrupted(activity) from None
            raise
        finally:
            self.inflight = None
        if workflow.cancellation_reason() is not None:
            raise asyncio.CancelledError
        return result


class ControlledSync:
    """Signal handlers every sync workflow shares; subclasses pass ``self._controls`` to their loop."""

    def __init__(self) -> None:
        self._controls = Controls()

    @workflow.signal(name="pause")
    def pause(self, sig: ControlSignal | None = None) -> None:
        """Pause the run (no argument: this run only) until the matching ``resume``."""
        self._controls.pause(sig or ControlSignal())

    @workflow.signal(name="resume")
    def resume(self, sig: ControlSignal | None = None) -> None:
        """Lift the pause of the same scope and name."""
        self._controls.resume(sig or ControlSignal())

    @workflow.signal(name="event")
    def event(self, ev: WorkflowEvent) -> None:
        """Note an upstream event: one more incremental pass after the current one."""
        self._controls.event(ev)
