"""The ``call_api`` activity: one step of a Mode 2 flow through a user API's sandboxed SDK.

It runs on the agent for local APIs and on the cloud workers for internet ones (the routing
plan decides). Either way it loads the pinned SDK version by content hash, resolves the secret
where it is kept (the agent's vault or the tenant's secret store: an agent's credentials never
leave the premises) and calls through :mod:`sdkgen.runtime`, which enforces the egress
allow-list, write grants, time/memory/size limits and writes one audit event per HTTP request.

Three shapes of step: one call (a list operation paged by the host, its items sealed into the
buffer when they are bigger than ``inline_max_bytes``); rows of a local table sent in batches;
buffered chunks sent in batches. Sent batches carry an idempotency key made of the run id, the
step and the batch index, so a retried attempt (which resumes after the last heartbeated
batch) replays the same keys and the API stores nothing twice.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from typing import Any, Literal

import pyarrow as pa
from pydantic import TypeAdapter, ValidationError
from temporalio import activity

from activities.api_records import infer_schema, items_batch, json_records, slices
from activities.api_sources import ArtifactSource, BackendArtifacts, MappingSecrets, SecretSource
from activities.buffer import BufferStore
from activities.connections import ProfileSource
from activities.errors import (
    ApiNotFoundError,
    InvalidInputError,
    activity_errors,
)
from activities.fingerprints import fingerprint_batches, json_columns_of
from activities.sql import open_connector
from activities.sync_steps import BatchStream, check_tenant, source_schema
from activities.transform import compile_transform
from sdkgen.engine import ENGINE_KEY
from sdkgen.model import Accessibility, ApiAuth, ApiDescription, Operation, Pagination
from sdkgen.runtime import AuditEvent, AuditSink, CallTarget, LoadedSdk, SdkHost, items_of
from workflows import contracts as c
from workflows.api_types import CALL_API, ApiCallCount, CallApiInput, CallApiResult
from workflows.types import BufferRef, Fingerprint, TableSchema

__all__ = [
    "ApiCalls",
    "ArtifactSource",
    "SecretSource",
    "MappingSecrets",
    "BackendArtifacts",
    "idempotency_key",
    "KIND_DESCRIPTION",
]

KIND_DESCRIPTION = "api-description"
"""Artifact kind of an ``ApiDescription`` (JSON): the operations a pinned SDK version has."""
KIND_COMPONENT = "sdk-component"
KIND_PRECOMPILED = "sdk-precompiled"
_AUTH: TypeAdapter[Any] = TypeAdapter(ApiAuth)


def idempotency_key(*, run_id: str, step: str, index: int) -> str:
    """The key of one sent batch: the same on every retry of the run's step, unique across runs."""
    return f"vsc-{run_id}-{step}-{index:06d}"


_collector: contextvars.ContextVar[_Counts | None] = contextvars.ContextVar("vsc_api_counts", default=None)


class _Counts:
    """Per-activity tally of HTTP outcomes (the agent returns it; the workflow audits it)."""

    def __init__(self) -> None:
        self.by_key: dict[tuple[str, int], list[int]] = {}

    def add(self, event: AuditEvent) -> None:
        entry = self.by_key.setdefault((event.operation, event.status), [0, 0])
        entry[0] += 1
        entry[1] += event.bytes

    def freeze(self) -> tuple[ApiCallCount, ...]:
        return tuple(
            ApiCallCount(operation=op, status=status, calls=n, bytes=size)
            for (op, status), (n, size) in sorted(self.by_key.items())
        )


class _Sink:
    """The host's audit sink: counts every event for the running activity, and forwards it (cloud)."""

    def __init__(self, forward: AuditSink | None) -> None:
        self.forward = forward

    def record(self, event: AuditEvent) -> None:
        counts = _collector.get()
        if counts is not None:
            counts.add(event)
        if self.forward is not None:
            self.forward.record(event)


class ApiCalls:
    """The ``call_api`` activity of one worker (agent or cloud) and the SDK host it calls through.

    Args:
        runs_on: Which side this worker is; decides whether private addresses may be reached.
        artifacts: Where pinned SDK artifacts come from (the registry; the agent: its gateway).
        secrets: Where credentials are resolved (the agent: its vault; cloud: the secret store).
        buffer: The buffer store (None: this worker cannot take or return buffered records).
        connections: The worker's database connections of a tenant, for steps that send a
            table's rows (the agent serves one tenant; the cloud resolves each tenant's own).
        audit: Where the cloud writes one event per request (None on the agent: the workflow
            writes the per-outcome counts the activity returns).
        private_origins: Operator-allowed private origins on the cloud (loopback demo and tests).
    """

    def __init__(
        self,
        *,
        runs_on: Literal["agent", "cloud"],
        artifacts: ArtifactSource,
        secrets: SecretSource,
        buffer: BufferStore | None,
        connections: Callable[[str], ProfileSource] | None = None,
        audit: AuditSink | None = None,
        private_origins: tuple[str, ...] = (),
    ) -> None:
        self.runs_on = runs_on
        self.artifacts = artifacts
        self.secrets = secrets
        self.buffer = buffer
        self.connections = connections
        self.audits = audit is not None
        self.host = SdkHost(audit=_Sink(audit), private_origins=private_origins)
        self._descriptions: dict[str, ApiDescription] = {}
        self._lock = threading.Lock()

    # -- loading and targets ------------------------------------------------------------------

    def _sdk(self, inp: CallApiInput) -> tuple[LoadedSdk, Operation]:
        pin, tenant = inp.api.sdk, inp.tenant
        with self._lock:
            desc = self._descriptions.get(pin.description_sha256)
        if desc is None:
            raw = self.artifacts.get(tenant=tenant, kind=KIND_DESCRIPTION, sha256=pin.description_sha256)
            desc = ApiDescription.model_validate_json(raw)
            with self._lock:
                self._descriptions[pin.description_sha256] = desc
        try:
            operation = desc.operation(inp.operation)
        except KeyError:
            raise ApiNotFoundError(
                f"API {inp.api.name!r} v{pin.version} has no operation {inp.operation!r}", api=inp.api.name
            ) from None
        native = pin.precompiled.get(ENGINE_KEY)
        if native is not None:
            data = self.artifacts.get(tenant=tenant, kind=KIND_PRECOMPILED, sha256=native)
            return self.host.load(data, engine_key=ENGINE_KEY), operation
        data = self.artifacts.get(tenant=tenant, kind=KIND_COMPONENT, sha256=pin.component_sha256)
        return self.host.load(data), operation

    def _target(self, inp: CallApiInput) -> CallTarget:
        api = inp.api
        try:
            auth = _AUTH.validate_python(api.auth)
        except ValidationError:
            raise InvalidInputError(
                f"API {api.name!r}: the pinned auth settings are invalid", api=api.name
            ) from None
        secret = None
        if auth.kind != "none":
            if api.credential is None:
                raise InvalidInputError(f"API {api.name!r} needs a credential reference", api=api.name)
            secret = self.secrets.secret(tenant=inp.tenant, credential=api.credential)
        return CallTarget(
            tenant=inp.tenant,
            api=api.name,
            base_url=api.base_url,
            accessibility=Accessibility(api.accessibility),
            runs_on=self.runs_on,
            auth=auth,
            secret=secret,
            writable=frozenset(api.writable_ops),
        )

    # -- the activity -------------------------------------------------------------------------

    @activity.defn(name=CALL_API, no_thread_cancel_exception=True)
    def call_api(self, inp: CallApiInput) -> CallApiResult:
        """Run one step against the pinned SDK; see the module docstring for its three shapes."""
        with activity_errors():
            check_tenant(inp.tenant)
            counts = _Counts()
            token = _collector.set(counts)
            try:
                sdk, operation = self._sdk(inp)
                target = self._target(inp)
                if inp.sends_records:
                    result = self._send(inp, sdk=sdk, operation=operation, target=target, counts=counts)
                else:
                    result = self._fetch(inp, sdk=sdk, operation=operation, target=target)
            finally:
                _collector.reset(token)
            return result.model_copy(update={"audited": self.audits, "counts": counts.freeze()})

    def _fetch(
        self, inp: CallApiInput, *, sdk: LoadedSdk, operation: Operation, target: CallTarget
    ) -> CallApiResult:
        if inp.pagination is None:
            response = self.host.call(sdk=sdk, operation=operation, args=inp.args, target=target)
            if response.size <= inp.inline_max_bytes or not isinstance(response.body, list):
                return CallApiResult(operation=inp.operation, calls=1, body=response.body)
            pages: Iterator[list[Any]] = iter([response.body])
        else:
            pagination = Pagination.model_validate(inp.pagination)
            responses = self.host.paginate(
                sdk=sdk, operation=operation, args=inp.args, target=target, pagination=pagination
            )
            pages = (items_of(r.body, pagination.items_path) for r in responses)
        return self._collect(inp, pages)

    def _collect(self, inp: CallApiInput, pages: Iterator[list[Any]]) -> CallApiResult:
        """Gather listed items inline while they are small, else seal them into the buffer page by page."""
        held: list[Any] = []
        size = calls = 0
        writer = None
        schema: TableSchema | None = None
        batches: list[pa.RecordBatch] = []
        for items in pages:
            calls += 1
            activity.heartbeat(calls)
            if not items:
                continue
            schema = schema or infer_schema(items, table=inp.records_table, operation=inp.operation)
            batch = items_batch(items, schema, operation=inp.operation)
            batches.append(batch)  # only for the fingerprint below: one page's Arrow copy each
            size += batch.nbytes
            if writer is None and size > inp.inline_max_bytes:
                writer = self._require_buffer().open_writer(
                    tenant=inp.tenant, run_id=inp.run_id, table_schema=schema
                )
                for earlier in held:
                    writer.write(earlier)
                held.clear()
            if writer is not None:
                writer.write(batch)
            else:
                held.append(batch)
        json_cols = json_columns_of(schema) if schema else frozenset()
        fingerprint = fingerprint_batches(batches, json_columns=json_cols)
        records = sum(b.num_rows for b in batches)
        if writer is not None:
            return CallApiResult(
                operation=inp.operation,
                calls=calls,
                records=records,
                buffer=writer.finish(),
                fingerprint=fingerprint,
            )
        body = [r for b in held for r in json_records(b, json_columns=json_cols)]
        return CallApiResult(
            operation=inp.operation, calls=calls, records=records, body=body, fingerprint=fingerprint
        )

    def _send(
        self, inp: CallApiInput, *, sdk: LoadedSdk, operation: Operation, target: CallTarget, counts: _Counts
    ) -> CallApiResult:
        details = activity.info().heartbeat_details
        done = CallApiResult.model_validate(details[0]) if details else CallApiResult(operation=inp.operation)
        for progress, batch, json_cols in self._record_batches(inp, done):
            if batch is None:  # the table is exhausted
                done = done.model_copy(update={"progress": progress})
                continue
            index = inp.first_batch + done.calls
            records = json_records(batch, json_columns=json_cols)
            body: Any = {inp.post.records_field: records} if inp.post.records_field else records
            args = dict(inp.args)
            if inp.post.idempotency_arg:
                args[inp.post.idempotency_arg] = idempotency_key(
                    run_id=inp.run_id, step=inp.step, index=index
                )
            # The JSON body travels beside the parameters (the guest request's "body" field).
            self.host.call(sdk=sdk, operation=operation, args=args, body=body, target=target)
            part = fingerprint_batches([batch], json_columns=json_cols)
            done = done.model_copy(
                update={
                    "calls": done.calls + 1,
                    "records": done.records + batch.num_rows,
                    "fingerprint": _add(done.fingerprint, part),
                    "progress": progress,
                }
            )
            # Heartbeat only after the API accepted the batch: a retry resumes after it.
            activity.heartbeat(done)
            if activity.is_cancelled():
                break
        final = done.progress or c.StepProgress(done=True)
        if inp.buffer is not None:
            final = final.model_copy(
                update={"done": done.calls >= _buffer_batches(inp.buffer, inp.limits.batch_rows)}
            )
        return done.model_copy(update={"progress": final})

    def _record_batches(
        self, inp: CallApiInput, done: CallApiResult
    ) -> Iterator[tuple[c.StepProgress | None, pa.RecordBatch | None, frozenset[str]]]:
        """The batches still to send, each with the progress it completes (a table ends with no batch)."""
        if inp.table is not None:
            yield from self._table_batches(inp, done)
            return
        assert inp.buffer is not None
        ref, buffer = inp.buffer, self._require_buffer()
        transform = compile_transform(inp.transform, ref.table_schema) if inp.transform else None
        out_schema = transform.output_schema if transform else ref.table_schema
        json_cols = json_columns_of(out_schema)
        index = 0
        for chunk in ref.chunks:
            table = buffer.read_chunk(ref, chunk, tenant=inp.tenant)
            for piece in slices(table, inp.limits.batch_rows):
                if index >= done.calls:  # batches sent by an earlier attempt are skipped, not resent
                    yield None, transform.apply(piece) if transform else piece, json_cols
                index += 1

    def _table_batches(
        self, inp: CallApiInput, done: CallApiResult
    ) -> Iterator[tuple[c.StepProgress | None, pa.RecordBatch | None, frozenset[str]]]:
        assert inp.table is not None
        if self.connections is None:
            raise InvalidInputError("this worker reaches no databases")
        read = inp.table
        progress = done.progress or c.StepProgress(after=read.after)
        with open_connector(self.connections(inp.tenant).get(read.connection)) as src:
            schema = source_schema(src, table=read.table, query=read.query, key=read.key)
            transform = compile_transform(inp.transform, schema) if inp.transform else None
            json_cols = json_columns_of(transform.output_schema if transform else schema)
            stream = BatchStream(source=src, schema=schema, read=read, limits=inp.limits, progress=progress)
            for batch in stream:
                yield stream.progress, transform.apply(batch) if transform else batch, json_cols
            if stream.progress.done:
                yield stream.progress, None, json_cols

    def _require_buffer(self) -> BufferStore:
        if self.buffer is None:
            raise InvalidInputError("this worker has no buffer configured")
        return self.buffer

    def all(self) -> list[Any]:
        """Every activity of this class, for ``Worker(activities=...)``."""
        return [self.call_api]


def _buffer_batches(ref: BufferRef, size: int) -> int:
    return sum(-(-chunk.rows // size) for chunk in ref.chunks)


def _add(a: Fingerprint | None, b: Fingerprint) -> Fingerprint:
    if a is None:
        return b
    total = (int(a.content_hash, 16) + int(b.content_hash, 16)) % 2**128
    return Fingerprint(rows=a.rows + b.rows, content_hash=f"{total:032x}")
