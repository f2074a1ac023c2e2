"""Inputs and results of the Mode 2 flows (patterns 3.1.2 and 3.3.3) and of their ``call_api`` activity.

A flow pins one version of each user API it calls: the content hashes of the SDK component
(and its precompiled copies), the base URL, how to authenticate (never the secret itself, only
the name it is kept under) and the operations the user granted write. Running and saved
workflows therefore keep the SDK version they started with. Auth and pagination travel as the
JSON of ``sdkgen.model``'s models, which the activity validates: ``workflows/`` imports only its
own types.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import Field, model_validator

from workflows.contracts import BatchLimits, StepProgress, TableRead
from workflows.transform import TransformSpec
from workflows.types import BufferRef, Fingerprint, Frozen, Identifier

CALL_API: Final = "call_api"

Accessibility = Literal["local", "internet", "both"]
_DIGEST = r"^[0-9a-f]{64}$"


class SdkPin(Frozen):
    """One immutable SDK version, named by the sha256 of its artifacts in the tenant's registry."""

    version: int = Field(default=1, ge=1)
    component_sha256: str = Field(pattern=_DIGEST)
    description_sha256: str = Field(pattern=_DIGEST)
    """The ``ApiDescription`` (JSON artifact) the SDK was built from: its operations, typed."""
    precompiled: dict[str, str] = Field(default_factory=dict)
    """``ENGINE_KEY`` -> sha256 of the component precompiled for that engine (loaded when it matches)."""
    build_key: str = ""


class ApiBinding(Frozen):
    """A registered API as a flow pinned it; holds no secret."""

    name: str = Field(min_length=1, max_length=63, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    sdk: SdkPin
    base_url: str = Field(min_length=1, max_length=2048)
    accessibility: Accessibility
    auth: dict[str, Any] = Field(default_factory=lambda: {"kind": "none"})
    """``sdkgen.model.ApiAuth`` as JSON (kind, header name, token URL ...), never the secret."""
    credential: str | None = Field(default=None, max_length=255)
    """Where the secret is: a secret-store reference (cloud) or a vault credential name (agent)."""
    writable_ops: tuple[str, ...] = ()
    """Non-safe operations the user granted at registration; everything else is read-only."""


class PostShape(Frozen):
    """How a batch of records becomes the arguments of a write operation."""

    records_field: str = ""
    """Wrap the records as ``{records_field: [...]}``; empty: the body is the list itself."""
    idempotency_arg: str | None = "idempotency_key"
    """The SDK argument (an ``Idempotency-Key`` header) given a key per batch; None: the API has none."""


class ApiRetry(Frozen):
    """Retry policy of API steps: 5xx, 429 and unreachable are retried, other errors fail at once."""

    maximum_attempts: int = Field(default=5, ge=1, le=100)
    initial_seconds: float = Field(default=1.0, gt=0)
    maximum_seconds: float = Field(default=30.0, gt=0)


class CallApiInput(Frozen):
    """One ``call_api`` step: one (paginated) call, or records of a table or the buffer POSTed in batches."""

    tenant: str
    run_id: str
    step: Identifier = "call"
    """Names the step within the run; part of every idempotency key, so two steps never share one."""
    api: ApiBinding
    operation: str = Field(min_length=1, max_length=128)
    args: dict[str, Any] = Field(default_factory=dict)
    pagination: dict[str, Any] | None = None
    """``sdkgen.model.Pagination`` as JSON, for list operations."""
    records_table: Identifier = "records"
    """Table name of the listed items when they go to the buffer."""
    table: TableRead | None = None
    """Records to send, read from a database the worker reaches (3.1.2, on the agent)."""
    buffer: BufferRef | None = None
    """Records to send, from the encrypted buffer (3.3.3, on the cloud)."""
    first_batch: int = Field(default=0, ge=0)
    """Index of this call's first batch within the step: idempotency keys count from it."""
    transform: TransformSpec | None = None
    """Applied to the records before they are sent (the plan's transform step, fused into the load)."""
    post: PostShape = PostShape()
    limits: BatchLimits = BatchLimits(batch_rows=500)
    inline_max_bytes: int = Field(default=64 * 1024, ge=0)
    """Results larger than this go to the buffer as a ``BufferRef``; 0: always the buffer."""

    @model_validator(mode="after")
    def _one_record_source(self) -> CallApiInput:
        if self.table is not None and self.buffer is not None:
            raise ValueError("records come from a table or from the buffer, not both")
        return self

    @property
    def sends_records(self) -> bool:
        """Whether this step POSTs record batches rather than making one (paginated) call."""
        return self.table is not None or self.buffer is not None


class ApiCallCount(Frozen):
    """HTTP calls of a step with one outcome, for the audit trail (no bodies, no secrets)."""

    operation: str
    status: int
    calls: int
    bytes: int


class CallApiResult(Frozen):
    """What a ``call_api`` step did; data is inline only when small, else in the buffer."""

    operation: str
    calls: int = 0
    records: int = 0
    """Items received (a list call) or records sent (a record step)."""
    body: Any = None
    buffer: BufferRef | None = None
    fingerprint: Fingerprint | None = None
    """Of the records received or sent, as sent (after the transform)."""
    progress: StepProgress | None = None
    audited: bool = False
    """True when the worker wrote the audit events itself (cloud); else the workflow writes ``counts``."""
    counts: tuple[ApiCallCount, ...] = ()


class DbToApiInput(Frozen):
    """Patterns 3.1.2 and 3.2.2: rows of a database table POSTed in batches to a user API."""

    agent: str | None = Field(default=None, min_length=1)
    """The agent (or group) reaching a local table and API (3.1.2); none for 3.2.2."""
    source_connection: str = Field(min_length=1)
    source_table: Identifier
    query: str | None = Field(default=None, min_length=1, max_length=100_000)
    key: tuple[Identifier, ...] = ()
    transform: TransformSpec | None = None
    api: ApiBinding
    operation: str
    post: PostShape = PostShape()
    batch_rows: int = Field(default=500, ge=1, le=10_000)
    retry: ApiRetry = ApiRetry()


class ApiToApiInput(Frozen):
    """Patterns 3.3.3 and 3.2.1: one API's list operation -> buffer -> cloud transform -> another API."""

    agent: str | None = Field(default=None, min_length=1)
    """The agent (or group) reaching a local source API (3.3.3); none for 3.2.1."""
    source: ApiBinding
    list_operation: str
    list_args: dict[str, Any] = Field(default_factory=dict)
    pagination: dict[str, Any] | None = None
    records_table: Identifier = "records"
    """Name the listed items go by in the buffer (the transform's input table)."""
    transform: TransformSpec | None = None
    destination: ApiBinding
    operation: str
    post: PostShape = PostShape()
    batch_rows: int = Field(default=500, ge=1, le=10_000)
    retry: ApiRetry = ApiRetry()


class ApiStepResult(Frozen):
    """One step of a Mode 2 flow, where it ran and what it moved."""

    step: str
    location: str
    operation: str
    calls: int
    records: int
    fingerprint: Fingerprint | None = None


class ApiFlowResult(Frozen):
    """Counts per step, and the fingerprints of what was read and what was sent."""

    pattern: str
    steps: tuple[ApiStepResult, ...]

    @property
    def records_sent(self) -> int:
        """Records the last step POSTed."""
        return self.steps[-1].records if self.steps else 0
