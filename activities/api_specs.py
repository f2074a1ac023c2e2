"""Fetching OpenAPI documents by URL: bounded in size and time, no redirects, one error type.

Used by the console for internet APIs and, as the :data:`workflows.fetch_spec.FETCH_SPEC`
activity, by the agent for local ones (the console cannot reach the customer network). Where a
URL may connect is the caller's ``transport``, always one guarded by the runtime's egress policy:
the console's refuses private space unless the operator allowed the origin; the agent's
(:func:`local_spec_transport`) reaches its own network but never link-local space, so a spec URL
cannot make the agent read a cloud metadata service.
"""

from __future__ import annotations

import base64
import hashlib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx
from temporalio import activity

from activities.errors import EgressDeniedError, SpecUnreachableError, activity_errors
from sdkgen.runtime import DialGuard, EgressPolicy, Resolver, guarded_transport, system_resolver
from workflows.fetch_spec import FETCH_SPEC, FetchSpecInput, FetchSpecResult

_HTTPX_EXC_MAP: tuple[tuple[type[Exception], str], ...] = (
    (httpx.TimeoutException, "timed out"),
    (httpx.ConnectError, "refused the connection or could not be resolved"),
    (httpx.TooManyRedirects, "redirected too often"),
    (httpx.TransportError, "failed in transport"),
)


def http_only(url: str) -> None:
    """Refuse anything but an ``http(s)://host`` URL without user info (``file:``, ``gopher:``, ``a@b``).

    Raises:
        EgressDeniedError: Another scheme, no host, or credentials in the URL.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EgressDeniedError(f"a spec URL must be http(s)://host/...; got scheme {parts.scheme!r}")
    if parts.username is not None or parts.password is not None:
        raise EgressDeniedError("a spec URL must not carry credentials (user@host)")


@contextmanager
def _map_httpx(url: str) -> Iterator[None]:
    origin = _origin(url)
    try:
        yield
    except httpx.HTTPError as exc:
        for source, what in _HTTPX_EXC_MAP:
            if isinstance(exc, source):
                raise SpecUnreachableError(f"the spec at {origin} {what}", url=origin) from None
        raise SpecUnreachableError(f"the spec at {origin} could not be fetched", url=origin) from None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def fetch_document(
    url: str, *, max_bytes: int, timeout_seconds: float, transport: httpx.BaseTransport | None = None
) -> bytes:
    """GET ``url`` and return its body, at most ``max_bytes``; redirects are not followed.

    Raises:
        EgressDeniedError: Not an http(s) URL, or ``transport`` refused to connect (nothing was sent).
        SpecUnreachableError: Refused, timed out, not 200, or larger than ``max_bytes``.
    """
    http_only(url)
    origin = _origin(url)
    client = httpx.Client(
        timeout=timeout_seconds, follow_redirects=False, trust_env=False, transport=transport
    )
    with _map_httpx(url), client as http:
        with http.stream("GET", url, headers={"Accept": "application/json, application/yaml"}) as response:
            if response.status_code != 200:
                raise SpecUnreachableError(
                    f"the spec at {origin} answered HTTP {response.status_code}, not 200", url=origin
                )
            chunks: list[bytes] = []
            received = 0
            for chunk in response.iter_bytes():
                received += len(chunk)
                if received > max_bytes:
                    raise SpecUnreachableError(
                        f"the spec at {origin} is larger than {max_bytes} bytes", url=origin
                    )
                chunks.append(chunk)
    return b"".join(chunks)


def local_spec_transport(
    url: str, *, resolver: Resolver = system_resolver, dial_guard: DialGuard | None = None
) -> httpx.HTTPTransport:
    """The agent's transport for ``url``: its origin only, private space allowed, link-local never.

    Raises:
        EgressDeniedError: The URL itself names a refused address (link-local, reserved, ...).
    """
    http_only(url)
    policy = EgressPolicy.for_origins([url], private=[url])
    policy.check_url(url)
    return guarded_transport(
        policy, ssl_context=ssl.create_default_context(), resolver=resolver, dial_guard=dial_guard
    )


@activity.defn(name=FETCH_SPEC)
def fetch_spec(inp: FetchSpecInput) -> FetchSpecResult:
    """Agent side: fetch a spec in the customer network and return it inline (base64, < 1 MiB)."""
    with activity_errors():
        data = fetch_document(
            inp.url,
            max_bytes=inp.max_bytes,
            timeout_seconds=inp.timeout_seconds,
            transport=local_spec_transport(inp.url),
        )
    return FetchSpecResult(
        data_b64=base64.b64encode(data).decode(), sha256=hashlib.sha256(data).hexdigest(), size=len(data)
    )
