"""``SdkHost``: loads generated SDK components and runs their operations in wasmtime (one per worker process).

Each call gets: the tenant's rate-limit token, an epoch deadline (the call's wall-clock budget), a
store with the memory cap, and a ``CallContext`` the ``host.send`` import works in. Instances are
reused per (SDK, tenant) while they finish cleanly (instantiation is ~1 ms from a precompiled
copy, but reuse keeps the per-call overhead well under it); an instance that trapped or hit a
limit is thrown away, so a hostile call cannot poison the next one. Whatever the guest does, the
caller gets an ``ApiResponse`` or one of the typed errors of ``activities.errors``; nothing the
guest can do raises anything else out of ``call``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import wasmtime
from wasmtime.component import Component, Func, Linker, Record

from activities.errors import (
    ApiCallError,
    EgressDeniedError,
    InvalidInputError,
    SdkBuildError,
    VscError,
)
from sdkgen.engine import ENGINE_KEY, engine
from sdkgen.model import Operation, Pagination
from sdkgen.runtime._auth import OAuth2Tokens
from sdkgen.runtime._egress import ConnectStats, DialGuard, Resolver, origin_of, system_resolver
from sdkgen.runtime._http import CallContext, HostHttp
from sdkgen.runtime._limits import EpochTicker, TokenBucket
from sdkgen.runtime._pagination import paginate
from sdkgen.runtime._results import map_result, response_from_raw, trap_error
from sdkgen.runtime._target import ApiResponse, AuditSink, CallTarget, NullAuditSink

HOST_INTERFACE = "vsc:sdk/host@0.1.0"


def _record(**fields: Any) -> Record:
    rec = Record()
    for name, value in fields.items():
        setattr(rec, name, value)
    return rec


@dataclass(frozen=True)
class LoadedSdk:
    """A compiled SDK component ready to instantiate, named by the sha256 of the bytes it came from."""

    sha256: str
    component: Component = field(compare=False, repr=False)


@dataclass
class _Slot:
    ctx: CallContext | None = None


@dataclass
class _Instance:
    store: wasmtime.Store
    call: Func
    slot: _Slot


class SdkHost:
    """Runs SDK components for every tenant of a worker process.

    Args:
        audit: Receives one event per HTTP request made (or refused) for a guest.
        resolver: Name resolution used at connect time (tests inject a fake one).
        dial_guard: Optional hook called before each TCP dial.
        private_origins: Operator list of origins allowed to be private even on the cloud worker
            (empty by default; tests and the demo, where the "internet" API is on loopback).
        oauth_refresh_margin_s: Refresh OAuth2 tokens this long before they expire.
        reuse_instances: Keep clean instances per (SDK, tenant) between calls.
    """

    def __init__(
        self,
        *,
        audit: AuditSink | None = None,
        resolver: Resolver = system_resolver,
        dial_guard: DialGuard | None = None,
        private_origins: Iterable[str] = (),
        oauth_refresh_margin_s: float = 60.0,
        reuse_instances: bool = True,
    ) -> None:
        self._engine = engine()
        EpochTicker.ensure(self._engine)
        self.http = HostHttp(
            resolver=resolver,
            dial_guard=dial_guard,
            audit=audit or NullAuditSink(),
            tokens=OAuth2Tokens(refresh_margin_s=oauth_refresh_margin_s),
            operator_private=frozenset(origin_of(u) for u in private_origins),
        )
        self._rate = TokenBucket()
        self._reuse = reuse_instances
        self._loaded: dict[str, LoadedSdk] = {}
        self._idle: dict[tuple[str, str, int], list[_Instance]] = {}
        self._lock = threading.Lock()

    @property
    def stats(self) -> ConnectStats:
        """Resolution / dial / refusal counters of the guarded transport."""
        return self.http.stats

    def close(self) -> None:
        """Drop pooled instances and HTTP connections."""
        with self._lock:
            self._idle.clear()
        self.http.close()

    # -- loading ------------------------------------------------------------------------------

    def load(self, data: bytes, *, engine_key: str | None = None) -> LoadedSdk:
        """Compile (or deserialize) a component once per sha256 and check it links against the host.

        Args:
            data: Component bytes, or a precompiled copy when ``engine_key`` is given. Precompiled
                bytes are native code: only pass ones from the platform's own artifact registry.
            engine_key: The ``ENGINE_KEY`` the copy was made with; None for a plain component.

        Raises:
            SdkBuildError: Not a component, precompiled for another engine, or it imports anything
                but the host interface (for example WASI: files, sockets, clocks).
        """
        sha = hashlib.sha256(data).hexdigest()
        with self._lock:
            if sha in self._loaded:
                return self._loaded[sha]
        if engine_key is not None and engine_key != ENGINE_KEY:
            raise SdkBuildError(f"precompiled for {engine_key}, this host runs {ENGINE_KEY}", sha256=sha)
        try:
            if engine_key is None:
                component = Component(self._engine, data)
            else:
                component = Component.deserialize(self._engine, data)
        except wasmtime.WasmtimeError as exc:
            raise SdkBuildError(
                f"not a loadable component: {str(exc).splitlines()[0][:200]}", sha256=sha
            ) from None
        sdk = LoadedSdk(sha256=sha, component=component)
        self._instantiate(sdk, memory_bytes=256 * 1024 * 1024)  # refuse un-linked imports now, not mid-flow
        with self._lock:
            self._loaded[sha] = sdk
        return sdk

    def _instantiate(self, sdk: LoadedSdk, *, memory_bytes: int) -> _Instance:
        slot = _Slot()

        def send(_store: Any, req: Any) -> Any:
            return self._send(slot, req)

        linker = Linker(self._engine)
        with linker.root() as root, root.add_instance(HOST_INTERFACE) as host:
            host.add_func("send", send)
        store = wasmtime.Store(self._engine)
        store.set_limits(memory_size=memory_bytes)
        store.set_epoch_deadline(EpochTicker.ticks_for(30.0))
        try:
            instance = linker.instantiate(store, sdk.component)
        except wasmtime.WasmtimeError as exc:
            first = str(exc).splitlines()[0][:300]
            raise SdkBuildError(
                f"the component does not link against the SDK host (it may import only {HOST_INTERFACE}): "
                + first,
                sha256=sdk.sha256,
            ) from None
        func = instance.get_func(store, "call")
        if func is None:
            raise SdkBuildError("the component exports no `call` function", sha256=sdk.sha256)
        return _Instance(store=store, call=func, slot=slot)

    # -- the import ---------------------------------------------------------------------------

    def _send(self, slot: _Slot, req: Any) -> Any:
        ctx = slot.ctx
        if ctx is None:
            return "no call in progress"
        try:
            headers = [(str(h.name), str(h.value)) for h in req.headers]
            body = None if req.body is None else bytes(req.body)
            raw = self.http.guest_send(
                ctx, method=str(req.method), url=str(req.url), headers=headers, body=body
            )
        except VscError as exc:
            return exc.message
        except Exception:  # noqa: BLE001 - a host bug must surface as an error, not a trap with a traceback
            ctx.failure = ctx.failure or ApiCallError("the host failed to perform the request")
            return "host error"
        return _record(
            status=raw.status,
            headers=[_record(name=n, value=v) for n, v in raw.headers.items()],
            body=raw.body,
        )

    # -- calls --------------------------------------------------------------------------------

    def _acquire(self, sdk: LoadedSdk, target: CallTarget) -> _Instance:
        key = (sdk.sha256, target.tenant, target.limits.memory_bytes)
        with self._lock:
            idle = self._idle.get(key)
            if idle:
                return idle.pop()
        return self._instantiate(sdk, memory_bytes=target.limits.memory_bytes)

    def _release(self, sdk: LoadedSdk, target: CallTarget, inst: _Instance) -> None:
        if not self._reuse:
            return
        key = (sdk.sha256, target.tenant, target.limits.memory_bytes)
        with self._lock:
            pool = self._idle.setdefault(key, [])
            if len(pool) < 4:
                pool.append(inst)

    def call(
        self,
        *,
        sdk: LoadedSdk,
        operation: Operation,
        args: dict[str, Any],
        target: CallTarget,
        body: Any = None,
    ) -> ApiResponse:
        """Run ``operation`` of ``sdk`` with ``args`` (and a JSON ``body``) against ``target``.

        Raises:
            EgressDeniedError: A request outside the allow-list, or a write not granted.
            SandboxLimitError: Time, memory, response-size or request-count limit.
            AuthenticationFailedError: The API (or token endpoint) refused the credential.
            ApiUnavailableError: 5xx, 429, unreachable, or the tenant's rate limit.
            ApiCallError: 4xx, non-JSON where JSON was promised, or garbage from the guest.
            InvalidInputError: The SDK rejected the arguments.
            ApiNotFoundError: The SDK has no such operation.
        """
        limits = target.limits
        self._rate.take(target.tenant, rate=limits.rate_per_s, burst=limits.burst)
        policy = self.http.policy_for(target.base_url, target)
        policy.check_url(target.base_url)
        try:
            request = json.dumps({"base_url": target.base_url, "args": args, "body": body})
        except (TypeError, ValueError):
            raise InvalidInputError(
                "call arguments are not JSON-serializable", operation=operation.op_id
            ) from None
        ctx = CallContext(
            target=target,
            operation=operation.op_id,
            policy=policy,
            deadline=time.monotonic() + limits.timeout_s,
        )
        inst = self._acquire(sdk, target)
        inst.slot.ctx = ctx
        try:
            inst.store.set_epoch_deadline(EpochTicker.ticks_for(limits.timeout_s))
            result = inst.call(inst.store, operation.op_id, request)
            inst.call.post_return(inst.store)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
            inst.slot.ctx = None
            if ctx.failure is not None:
                raise ctx.failure from None
            raise trap_error(exc, timeout_s=limits.timeout_s, memory_bytes=limits.memory_bytes) from None
        except Exception:  # noqa: BLE001 - e.g. a value the bindings cannot convert: never crash the worker
            inst.slot.ctx = None
            raise ApiCallError(
                "the SDK call failed in the host bindings", operation=operation.op_id
            ) from None
        inst.slot.ctx = None
        self._release(sdk, target, inst)
        if ctx.failure is not None:
            # A refusal is a security event: the call fails even if the guest swallowed the error.
            raise ctx.failure
        return map_result(ctx, result, operation)

    def paginate(
        self,
        *,
        sdk: LoadedSdk,
        operation: Operation,
        args: dict[str, Any],
        target: CallTarget,
        pagination: Pagination,
    ) -> Iterator[ApiResponse]:
        """Yield the pages of a list operation, at most ``pagination.max_pages`` (see ``paginate``)."""

        def fetch(url: str) -> ApiResponse:
            self._rate.take(target.tenant, rate=target.limits.rate_per_s, burst=target.limits.burst)
            policy = self.http.policy_for(target.base_url, target)
            ctx = CallContext(
                target=target,
                operation=operation.op_id,
                policy=policy,
                deadline=time.monotonic() + target.limits.timeout_s,
            )
            try:
                absolute = str(httpx.URL(target.base_url).join(url))
            except (httpx.InvalidURL, ValueError, TypeError):
                raise EgressDeniedError("malformed next-page link") from None
            raw = self.http.guest_send(
                ctx, method="GET", url=absolute, headers=[("accept", "application/json")], body=None
            )
            return response_from_raw(raw, operation=operation.op_id, expect_json=True)

        def run(page_args: dict[str, Any]) -> ApiResponse:
            return self.call(sdk=sdk, operation=operation, args=page_args, target=target)

        return paginate(run=run, fetch=fetch, operation=operation, args=args, pagination=pagination)
