"""The host's one HTTP path: every request a guest asks for (and every page or token request) goes here.

In order: method grant, URL allow-list, guest credential headers dropped, request-body cap,
credential injection, the request over a guarded transport (checked addresses only, TLS verified,
no proxies from the environment, no automatic redirects), the response read streamed under the size
cap and the call's deadline, then one audit event. Redirects are followed by hand only within the
same origin (each hop re-checked, at most ``max_redirects``); a redirect elsewhere is refused.
"""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx

from activities.errors import (
    ApiCallError,
    ApiUnavailableError,
    EgressDeniedError,
    SandboxLimitError,
    VscError,
)
from sdkgen.model import SAFE_METHODS, OAuth2ClientCredentials
from sdkgen.runtime._auth import OAuth2Tokens, RawResponse, TokenPoster, inject, strip_guest_headers
from sdkgen.runtime._egress import (
    ConnectStats,
    DialGuard,
    EgressPolicy,
    Origin,
    Resolver,
    guarded_transport,
    origin_of,
)
from sdkgen.runtime._target import AuditEvent, AuditSink, CallTarget, Outcome

_REDIRECTS = {301, 302, 303, 307, 308}
_METHOD_OK = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})


@dataclass
class CallContext:
    """The state of one guest call, shared by every request it makes."""

    target: CallTarget
    operation: str
    policy: EgressPolicy
    deadline: float
    requests: int = 0
    failure: VscError | None = None
    last: RawResponse | None = None
    audited: list[AuditEvent] = field(default_factory=list)

    def remaining(self) -> float:
        """Seconds left of the call's budget (never negative)."""
        return max(0.0, self.deadline - time.monotonic())


class HostHttp:
    """Guarded HTTP for the host: one httpx client per (policy, CA file), shared by all calls.

    Args:
        resolver: Name resolution for the guarded backend.
        dial_guard: Optional hook before every TCP dial.
        audit: Where one event per request goes.
        tokens: The OAuth2 token cache.
        operator_private: Origins the operator allows to be private even off the agent.
    """

    def __init__(
        self,
        *,
        resolver: Resolver,
        dial_guard: DialGuard | None,
        audit: AuditSink,
        tokens: OAuth2Tokens,
        operator_private: frozenset[Origin] = frozenset(),
    ) -> None:
        self._resolver = resolver
        self._dial_guard = dial_guard
        self._audit = audit
        self.tokens = tokens
        self._operator_private = operator_private
        self._ssl: dict[str | None, ssl.SSLContext] = {}
        self.stats = ConnectStats()
        self._clients: dict[tuple[EgressPolicy, str | None], httpx.Client] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close every pooled connection."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def _client(self, policy: EgressPolicy, ca_file: str | None) -> httpx.Client:
        key = (policy, ca_file)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                ctx = self._ssl.get(ca_file)
                if ctx is None:
                    # Verification always on (CERT_REQUIRED + hostname check); only the CA set may change.
                    ctx = self._ssl[ca_file] = ssl.create_default_context(cafile=ca_file)
                transport = guarded_transport(
                    policy,
                    ssl_context=ctx,
                    resolver=self._resolver,
                    dial_guard=self._dial_guard,
                    stats=self.stats,
                )
                client = httpx.Client(transport=transport, trust_env=False, follow_redirects=False)
                self._clients[key] = client
            return client

    # -- the guest's path ---------------------------------------------------------------------

    def guest_send(
        self, ctx: CallContext, *, method: str, url: str, headers: list[tuple[str, str]], body: bytes | None
    ) -> RawResponse:
        """One request on behalf of the guest; every refusal is recorded in ``ctx.failure``.

        Raises:
            VscError: The typed reason (egress, limit, auth, unreachable); also kept in ``ctx.failure``.
        """
        method = method.upper()[:16]
        try:
            ctx.requests += 1
            limits = ctx.target.limits
            if ctx.requests > limits.max_requests:
                raise SandboxLimitError(f"request limit of {limits.max_requests} per call exceeded")
            if method not in _METHOD_OK:
                raise EgressDeniedError(f"method {method!r} refused")
            if method not in SAFE_METHODS and ctx.operation not in ctx.target.writable:
                raise EgressDeniedError(
                    f"{method} refused: operation {ctx.operation!r} is not granted writes", method=method
                )
            if body is not None and len(body) > limits.request_body_bytes:
                raise SandboxLimitError(f"request body over the limit of {limits.request_body_bytes} bytes")
            checked = ctx.policy.check_url(url)
        except VscError as exc:
            ctx.failure = ctx.failure or exc
            self._record(ctx, ctx.operation, method, 0, 0, 0.0, "denied")
            raise
        try:
            clean = strip_guest_headers(headers, ctx.target)
            resp = self.exchange(ctx, method=method, url=checked, headers=clean, body=body, authorize=True)
        except VscError as exc:
            ctx.failure = ctx.failure or exc
            raise
        ctx.last = resp
        return resp

    def exchange(
        self,
        ctx: CallContext,
        *,
        method: str,
        url: httpx.URL,
        headers: dict[str, str],
        body: bytes | None,
        authorize: bool,
    ) -> RawResponse:
        """Send a checked request with credentials, same-origin redirects and one OAuth2 refresh on 401."""
        target = ctx.target
        retried_auth = False
        hops = 0
        while True:
            sent_headers = dict(headers)
            sent_url = url
            if authorize:
                sent_url = inject(
                    target=target,
                    url=url,
                    headers=sent_headers,
                    tokens=self.tokens,
                    post=self._token_post(ctx),
                )
            resp = self._once(ctx, ctx.operation, method, sent_url, sent_headers, body, ctx.policy)
            if (
                resp.status == 401
                and authorize
                and isinstance(target.auth, OAuth2ClientCredentials)
                and not retried_auth
            ):
                retried_auth = True
                self.tokens.invalidate(target, target.auth)
                continue
            if resp.status in _REDIRECTS and "location" in resp.headers:
                hops += 1
                if hops > target.limits.max_redirects:
                    raise ApiCallError(f"more than {target.limits.max_redirects} redirects")
                nxt = url.join(resp.headers["location"])
                try:
                    url = ctx.policy.check_url(nxt)
                except EgressDeniedError as exc:
                    raise EgressDeniedError(f"redirect refused: {exc.message}", **exc.fields) from None
                if resp.status == 303 or (resp.status in (301, 302) and method == "POST"):
                    method, body = "GET", None
                continue
            return resp

    def policy_for(self, url: str, target: CallTarget) -> EgressPolicy:
        """The allow-list for requests to ``url``'s origin on behalf of ``target``.

        Private space is allowed when the target is a LOCAL API run by the agent, or when the
        operator listed the origin explicitly (a cloud worker whose "internet" API is on loopback).
        """
        origin = origin_of(url)
        private = target.private_allowed or origin in self._operator_private
        return EgressPolicy(
            origins=frozenset({origin}), private_origins=frozenset({origin}) if private else frozenset()
        )

    def _token_post(self, ctx: CallContext) -> TokenPoster:
        def post(
            target: CallTarget, token_url: str, form: dict[str, str], headers: dict[str, str]
        ) -> RawResponse:
            policy = self.policy_for(token_url, target)
            url = policy.check_url(token_url)
            token_ctx = CallContext(
                target=target, operation="oauth2_token", policy=policy, deadline=ctx.deadline
            )
            body = urlencode(form).encode()
            hdrs = {**headers, "content-type": "application/x-www-form-urlencoded"}
            return self._once(token_ctx, "oauth2_token", "POST", url, hdrs, body, policy)

        return post

    def _once(
        self,
        ctx: CallContext,
        operation: str,
        method: str,
        url: httpx.URL,
        headers: dict[str, str],
        body: bytes | None,
        policy: EgressPolicy,
    ) -> RawResponse:
        limits = ctx.target.limits
        client = self._client(policy, ctx.target.ca_file)
        started = time.monotonic()
        remaining = ctx.remaining()
        if remaining <= 0:
            raise SandboxLimitError(f"time limit of {limits.timeout_s:g} s reached", limit="time")
        status, size = 0, 0
        outcome: Outcome = "unreachable"
        try:
            request = client.build_request(method, url, headers=headers, content=body, timeout=remaining)
            resp = client.send(request, stream=True)
            try:
                status = resp.status_code
                declared = resp.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limits.response_bytes:
                    outcome = "limit"
                    raise SandboxLimitError(
                        f"response over the size limit of {limits.response_bytes} bytes", limit="response"
                    )
                chunks: list[bytes] = []
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > limits.response_bytes:
                        outcome = "limit"
                        raise SandboxLimitError(
                            f"response over the size limit of {limits.response_bytes} bytes", limit="response"
                        )
                    if time.monotonic() > ctx.deadline:
                        outcome = "limit"
                        raise SandboxLimitError(f"time limit of {limits.timeout_s:g} s reached", limit="time")
                    chunks.append(chunk)
                hdrs = {k.lower(): v for k, v in resp.headers.items()}
            finally:
                resp.close()
            outcome = "ok" if status < 400 else "auth_failed" if status in (401, 403) else "http_error"
            return RawResponse(status, hdrs, b"".join(chunks))
        except EgressDeniedError:
            outcome = "denied"
            raise
        except httpx.TimeoutException:
            outcome = "limit" if ctx.remaining() <= 0 else "unreachable"
            if ctx.remaining() <= 0:
                raise SandboxLimitError(
                    f"time limit of {limits.timeout_s:g} s reached", limit="time"
                ) from None
            raise ApiUnavailableError("the API timed out") from None
        except ssl.SSLError:
            raise ApiUnavailableError("TLS verification of the API failed") from None
        except httpx.ConnectError as exc:
            if isinstance(exc.__context__, ssl.SSLError) or "CERTIFICATE" in str(exc).upper():
                raise ApiUnavailableError("TLS verification of the API failed") from None
            raise ApiUnavailableError("the API could not be reached") from None
        except httpx.HTTPError as exc:
            raise ApiUnavailableError(f"HTTP failure talking to the API: {type(exc).__name__}") from None
        finally:
            self._record(ctx, operation, method, status, size, time.monotonic() - started, outcome)

    def _record(
        self,
        ctx: CallContext,
        operation: str,
        method: str,
        status: int,
        size: int,
        secs: float,
        outcome: Outcome,
    ) -> None:
        event = AuditEvent(
            tenant=ctx.target.tenant,
            api=ctx.target.api,
            operation=operation,
            method=method,
            status=status,
            bytes=size,
            duration_ms=round(secs * 1000, 3),
            outcome=outcome,
        )
        ctx.audited.append(event)
        try:
            self._audit.record(event)
        except Exception:  # noqa: BLE001 - a broken audit sink must not fail or crash the call
            pass
