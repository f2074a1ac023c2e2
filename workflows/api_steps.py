"""What both Mode 2 flows share: input parsing, the ``call_api`` step with its retry policy, auditing.

``call_api`` runs wherever the routing plan puts it (the agent for a local API, the cloud for an
internet one). The cloud worker writes its audit events itself; the agent cannot reach the
metadata store, so it returns per-outcome call counts and the workflow appends them here,
through the cloud worker's ``record_audit`` local activity.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from workflows import contracts as c
from workflows.api_types import CALL_API, ApiRetry, CallApiInput, CallApiResult
from workflows.types import Fingerprint

M = TypeVar("M", bound=BaseModel)
_SHORT = timedelta(seconds=30)
_FINGERPRINT_MOD = 2**128
"""The modulus of ``Fingerprint.content_hash`` (a sum of row hashes), so partial fingerprints add up."""


def parse(model: type[M], raw: Any) -> M:
    """Validate a workflow's JSON input.

    Raises:
        ApplicationError: ``InvalidWorkflowInput``, non-retryable, carrying pydantic's message.
    """
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ApplicationError(
            f"invalid workflow input: {exc}", type="InvalidWorkflowInput", non_retryable=True
        ) from None


def invalid(message: str) -> ApplicationError:
    """A non-retryable ``InvalidWorkflowInput`` failure."""
    return ApplicationError(message, type="InvalidWorkflowInput", non_retryable=True)


def combine(a: Fingerprint | None, b: Fingerprint | None) -> Fingerprint | None:
    """The fingerprint of two disjoint row sets: counts and row-hash sums add."""
    if a is None or b is None:
        return a or b
    total = (int(a.content_hash, 16) + int(b.content_hash, 16)) % _FINGERPRINT_MOD
    return Fingerprint(rows=a.rows + b.rows, content_hash=f"{total:032x}")


async def call_api(inp: CallApiInput, *, queue: str, retry: ApiRetry) -> CallApiResult:
    """Run one ``call_api`` step on ``queue`` and audit its calls.

    5xx, 429 and unreachable APIs are transient (retried with backoff up to ``retry``); client
    errors, refused egress and bad credentials are terminal and fail the step at once.
    """
    limits = inp.limits
    result = await workflow.execute_activity(
        CALL_API,
        inp,
        result_type=CallApiResult,
        task_queue=queue,
        start_to_close_timeout=timedelta(seconds=limits.max_seconds * 4 + 300),
        heartbeat_timeout=timedelta(seconds=limits.heartbeat_seconds),
        retry_policy=RetryPolicy(
            initial_interval=timedelta(seconds=retry.initial_seconds),
            backoff_coefficient=2.0,
            maximum_interval=timedelta(seconds=retry.maximum_seconds),
            maximum_attempts=retry.maximum_attempts,
        ),
    )
    if not result.audited:
        info = workflow.info()
        for count in result.counts:
            await workflow.execute_local_activity(
                c.RECORD_AUDIT,
                c.AuditInput(
                    tenant=inp.tenant,
                    workflow_id=info.workflow_id,
                    run_id=info.run_id,
                    activity=CALL_API,
                    action="api_call",
                    target=f"api:{inp.api.name}.{count.operation} -> {count.status}",
                    rows=count.calls,
                    outcome="ok" if count.status < 400 else "failed",
                ),
                start_to_close_timeout=_SHORT,
            )
    return result
