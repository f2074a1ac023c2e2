"""Pattern 3.4.1 fan-out: one extract into the encrypted buffer, then parallel loads to every destination.

The source is read once (on the agent or the cloud, as :func:`workflows.routing.plan_fan`
says); each destination then loads the same claim checks on its own side. Destinations are
independent: one that fails is retried alone, with backoff, until it succeeds or its
deadline passes, while the others finish; nothing done for one is undone or repeated for
another. The buffer is purged once every destination has settled (loaded or finally failed);
a destination that failed for good needs a new run, which extracts afresh.

Each delivery is a retry loop of activities in this workflow rather than a child workflow:
the claim checks, the one purge and the per-destination status all live in one history, the
``progress`` query sees every destination at once, and no child can outlive the buffer it
reads. The loop, not the activity's retry policy, owns the retries so the status reports
the exact attempt count and last error of every destination (a retried load re-applies its
chunks from the first, as no-op upserts).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from workflows import contracts as c
from workflows.fan_steps import Extracted, extract_all, failure, fingerprint, load_all, purge
from workflows.fan_types import DestinationStatus, FanEndpoint, FanOutInput, FanOutResult
from workflows.routing import FanPlan, LocalOnlyFanError, NoAgentError, plan_fan
from workflows.sync_loop import current_tenant, parse_input

PATTERN = "3.4.1"
ONCE = RetryPolicy(maximum_attempts=1)
"""One attempt per activity: the delivery loop retries, so it can count and report attempts."""


def route(tenant: str, inp: FanOutInput) -> FanPlan:
    """The fan-out's queues, or a non-retryable input error when no valid route exists."""
    try:
        return plan_fan(
            tenant=tenant,
            sources=(inp.source.kind,),
            destinations=tuple(d.kind for d in inp.destinations),
            agent=inp.agent,
        )
    except (LocalOnlyFanError, NoAgentError) as exc:
        raise ApplicationError(str(exc), type="InvalidWorkflowInput", non_retryable=True) from None


@workflow.defn(name="FanOutSync")
class FanOutSync:
    """Extract one table once and load it into several destinations, each on its own retry schedule."""

    def __init__(self) -> None:
        self._status = FanOutResult(table="")

    @workflow.run
    async def run(self, raw: dict[str, Any]) -> FanOutResult:
        """Fan the table out; see :class:`workflows.fan_types.FanOutInput`."""
        inp = parse_input(raw, FanOutInput)
        tenant = current_tenant()
        plan = route(tenant, inp)
        spec = inp.table
        self._status = FanOutResult(
            table=spec.source_table,
            destinations=tuple(DestinationStatus(connection=d.connection) for d in inp.destinations),
        )
        read = c.TableRead(
            connection=inp.source.connection, table=spec.source_table, query=spec.query, key=spec.key
        )
        source_queue = plan.extracts[0].queue
        extracted = await extract_all(
            tenant=tenant,
            read=read,
            queue=source_queue,
            limits=inp.limits,
            start_seq=0,
            transform=spec.transform,
        )
        self._status = self._status.model_copy(
            update={"rows_extracted": extracted.rows, "chunks": extracted.chunks}
        )
        deadline = workflow.now() + timedelta(seconds=inp.retry.deadline_seconds)
        deliveries = [
            self._deliver(
                i, dest, queue=step.queue, inp=inp, extracted=extracted, tenant=tenant, deadline=deadline
            )
            for i, (dest, step) in enumerate(zip(inp.destinations, plan.loads, strict=True))
        ]
        if inp.verify:
            deliveries.append(self._fingerprint_source(inp, tenant=tenant, queue=source_queue))
        await asyncio.gather(*deliveries)
        await purge(tenant=tenant, queue=plan.cloud)
        return self._status

    async def _fingerprint_source(self, inp: FanOutInput, *, tenant: str, queue: str) -> None:
        """The source as the transform writes it: what every destination must equal."""
        spec = inp.table
        source = await fingerprint(
            tenant=tenant,
            connection=inp.source.connection,
            table=spec.source_table,
            queue=queue,
            limits=inp.limits,
            query=spec.query,
            key=spec.key,
            transform=spec.transform,
        )
        self._status = self._status.model_copy(update={"source": source})

    async def _deliver(
        self,
        i: int,
        dest: FanEndpoint,
        *,
        queue: str,
        inp: FanOutInput,
        extracted: Extracted,
        tenant: str,
        deadline: datetime,
    ) -> None:
        """Load (and fingerprint) one destination, retrying it alone until it succeeds or the deadline."""
        table = inp.table.target
        delay = inp.retry.initial_seconds
        while True:
            attempts = self._dest(i).attempts + 1
            self._update(i, state="loading", attempts=attempts)
            # Each attempt may use only what is left of the deadline, also while its queue's worker is away.
            opts: dict[str, Any] = {
                "retry_policy": ONCE,
                "schedule_to_close_timeout": max(deadline - workflow.now(), timedelta(seconds=1)),
            }
            try:
                rows_read, written = await load_all(
                    tenant=tenant,
                    refs=extracted.refs,
                    connection=dest.connection,
                    table=table,
                    queue=queue,
                    limits=inp.limits,
                    **opts,
                )
                fp = None
                if inp.verify:
                    fp = await fingerprint(
                        tenant=tenant,
                        connection=dest.connection,
                        table=table,
                        queue=queue,
                        limits=inp.limits,
                        **opts,
                    )
            except ActivityError as err:
                message, permanent = failure(err)
                if permanent or deadline - workflow.now() <= timedelta(seconds=delay):
                    self._update(i, state="failed", error=message)
                    return
                self._update(i, state="retrying", error=message)
                await workflow.sleep(timedelta(seconds=delay))
                delay = min(delay * inp.retry.backoff, inp.retry.maximum_seconds)
                continue
            self._update(
                i, state="done", rows_read=rows_read, rows_written=written, fingerprint=fp, error=None
            )
            return

    def _dest(self, i: int) -> DestinationStatus:
        return self._status.destinations[i]

    def _update(self, i: int, **changes: Any) -> None:
        dests = list(self._status.destinations)
        dests[i] = dests[i].model_copy(update=changes)
        self._status = self._status.model_copy(update={"destinations": tuple(dests)})

    @workflow.query
    def progress(self) -> FanOutResult:
        """Every destination's state: pending, loading, retrying (with its last error), done or failed."""
        return self._status
