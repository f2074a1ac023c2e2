"""Fetch an OpenAPI document from inside the customer network, on the tenant's agent.

The console cannot reach a local-only API (DESIGN: only the agent is in that network), so it
starts this short workflow on the tenant's cloud queue; its one activity runs on the agent's
queue and hands the document back inline. The console validates it like an uploaded spec.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

from pydantic import Field, ValidationError
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from workflows.queues import agent_queue
from workflows.sync_loop import current_tenant
from workflows.types import Frozen

FETCH_SPEC: Final = "fetch_spec"
INLINE_LIMIT: Final = 1_048_576
"""Largest document the activity returns inline (history payloads stay small); larger ones are refused."""


class FetchSpecInput(Frozen):
    """What the agent fetches: one HTTP(S) URL, bounded in size and time."""

    url: str = Field(min_length=1, max_length=2048)
    max_bytes: int = Field(default=INLINE_LIMIT, ge=1, le=INLINE_LIMIT)
    timeout_seconds: float = Field(default=15.0, gt=0, le=120)


class FetchSpecResult(Frozen):
    """The fetched document, base64 inline, with its sha256 for the console to check."""

    data_b64: str
    sha256: str
    size: int


class FetchSpecWorkflowInput(Frozen):
    """Which agent (or agent group) fetches, and what."""

    agent: str
    fetch: FetchSpecInput


@workflow.defn(name="FetchSpecWorkflow")
class FetchSpecWorkflow:
    """Run :data:`FETCH_SPEC` once on the agent's queue; a failure ends the workflow with its type."""

    @workflow.run
    async def run(self, raw: dict[str, Any]) -> FetchSpecResult:
        """Fetch the document; the activity's ``SpecUnreachableError`` or ``EgressDeniedError`` ends it."""
        try:
            inp = FetchSpecWorkflowInput.model_validate(raw)
        except ValidationError as exc:
            raise ApplicationError(
                f"invalid workflow input: {exc}", type="InvalidWorkflowInput", non_retryable=True
            ) from None
        result: FetchSpecResult = await workflow.execute_activity(
            FETCH_SPEC,
            inp.fetch,
            result_type=FetchSpecResult,
            task_queue=agent_queue(current_tenant(), inp.agent),
            # The console waits for the answer: one retry for a blip, then a clear error.
            start_to_close_timeout=timedelta(seconds=inp.fetch.timeout_seconds + 5),
            schedule_to_close_timeout=timedelta(seconds=2 * inp.fetch.timeout_seconds + 15),
            retry_policy=RetryPolicy(maximum_attempts=2, initial_interval=timedelta(seconds=1)),
        )
        return result
