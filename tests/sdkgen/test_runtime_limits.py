"""Runtime host limits and result mapping against a real loopback API: sizes, statuses, writes, rate."""

# ruff: noqa: F811 - pytest fixtures imported from runtime_fixtures
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from activities.errors import (
    ApiCallError,
    ApiNotFoundError,
    ApiUnavailableError,
    AuthenticationFailedError,
    EgressDeniedError,
    InvalidInputError,
    SandboxLimitError,
)
from sdkgen.model import Accessibility
from sdkgen.runtime import CallLimits, CallTarget
from tests.console_api.served import serve
from tests.sdkgen.runtime_api import ApiState, make_api
from tests.sdkgen.runtime_fixtures import (  # noqa: F401
    Rig,
    guest_component,
    guest_precompiled,
    op,
    rig,
)


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    with serve(make_api(ApiState())) as base:
        yield base


def _target(api: str, **kw: Any) -> CallTarget:
    limits = kw.pop("limits", {})
    return CallTarget(
        tenant=kw.pop("tenant", "t1"),
        api="shop",
        base_url=api,
        accessibility=Accessibility.LOCAL,
        runs_on="agent",
        limits=CallLimits(**limits),
        **kw,
    )


def _get(rig: Rig, api: str, path: str, query: str = "", **kw: Any) -> Any:
    json_expected = kw.pop("json_expected", True)
    return rig.host.call(
        sdk=rig.sdk,
        operation=op("get", json_expected=json_expected),
        args={"path": path, "query": query},
        target=_target(api, **kw),
    )


def test_call_returns_host_observed_response(rig: Rig, api: str) -> None:
    resp = _get(rig, api, "/echo", "a=1")
    assert resp.status == 200 and resp.body["query"] == {"a": "1"} and resp.size > 0
    assert resp.headers["content-type"] == "application/json"
    [event] = rig.audit.events
    assert (event.operation, event.method, event.status, event.outcome) == ("get", "GET", 200, "ok")
    assert event.bytes == resp.size


def test_response_over_size_cap_is_an_error(rig: Rig, api: str) -> None:
    with pytest.raises(SandboxLimitError, match="size limit"):
        _get(rig, api, "/big", "n=20000", limits={"response_bytes": 10_000}, json_expected=False)
    assert (
        _get(rig, api, "/big", "n=9000", limits={"response_bytes": 10_000}, json_expected=False).size == 9000
    )


@pytest.mark.parametrize(
    "code,error",
    [
        (500, ApiUnavailableError),
        (503, ApiUnavailableError),
        (429, ApiUnavailableError),
        (404, ApiCallError),
        (400, ApiCallError),
        (401, AuthenticationFailedError),
        (403, AuthenticationFailedError),
    ],
)
def test_status_mapping(rig: Rig, api: str, code: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        _get(rig, api, f"/status/{code}")


def test_unreachable_api_is_unavailable(rig: Rig) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(ApiUnavailableError, match="could not be reached"):
        _get(rig, f"http://127.0.0.1:{port}", "/")


def test_non_json_where_json_expected(rig: Rig, api: str) -> None:
    with pytest.raises(ApiCallError, match="non-JSON"):
        _get(rig, api, "/text")
    assert _get(rig, api, "/text", json_expected=False).body == "<html>not json</html>"


def test_writes_refused_unless_granted(rig: Rig, api: str) -> None:
    args = {"method": "POST", "url": api + "/echo", "body": "{}"}
    with pytest.raises(EgressDeniedError, match="not granted"):
        rig.host.call(sdk=rig.sdk, operation=op("raw", "POST"), args=args, target=_target(api))
    assert rig.host.stats.dials == 0
    resp = rig.host.call(
        sdk=rig.sdk, operation=op("raw", "POST"), args=args, target=_target(api, writable=frozenset({"raw"}))
    )
    assert resp.body["method"] == "POST"


def test_request_body_cap(rig: Rig, api: str) -> None:
    args = {"method": "POST", "url": api + "/echo", "body": "x" * 2000}
    target = _target(api, writable=frozenset({"raw"}), limits={"request_body_bytes": 1000})
    with pytest.raises(SandboxLimitError, match="request body"):
        rig.host.call(sdk=rig.sdk, operation=op("raw", "POST"), args=args, target=target)


def test_same_origin_redirect_followed_bounded(rig: Rig, api: str) -> None:
    resp = _get(rig, api, "/redirect", "to=/echo%3Fr%3D1")
    assert resp.body["query"] == {"r": "1"}
    loop = "to=/redirect%3Fto%3D/redirect%253Fto%253D/echo"
    with pytest.raises(ApiCallError, match="redirects"):
        _get(rig, api, "/redirect", loop, limits={"max_redirects": 1})


def test_slow_api_hits_the_call_time_limit(rig: Rig, api: str) -> None:
    with pytest.raises(SandboxLimitError, match="time limit"):
        _get(rig, api, "/slow", "s=3", limits={"timeout_s": 0.5})


def test_request_count_limit(rig: Rig, api: str) -> None:
    target = _target(api, limits={"max_requests": 3})
    with pytest.raises(SandboxLimitError, match="request limit"):
        rig.host.call(sdk=rig.sdk, operation=op("multi"), args={"times": 5, "path": "/echo"}, target=target)


def test_rate_limit_per_tenant(rig: Rig, api: str) -> None:
    limits = {"rate_per_s": 0.001, "burst": 2}
    _get(rig, api, "/echo", limits=limits)
    _get(rig, api, "/echo", limits=limits)
    with pytest.raises(ApiUnavailableError, match="rate limited"):
        _get(rig, api, "/echo", limits=limits)
    assert _get(rig, api, "/echo", limits=limits, tenant="t2").status == 200  # another tenant's bucket


def test_guest_errors_are_typed(rig: Rig, api: str) -> None:
    t = _target(api)
    call = rig.host.call
    with pytest.raises(InvalidInputError):
        call(sdk=rig.sdk, operation=op("fail"), args={"kind": "invalid_argument"}, target=t)
    with pytest.raises(ApiCallError):
        call(sdk=rig.sdk, operation=op("fail"), args={"kind": "bad_response"}, target=t)
    with pytest.raises(ApiNotFoundError):
        call(sdk=rig.sdk, operation=op("no_such_op"), args={}, target=t)
    with pytest.raises(ApiCallError, match="malformed"):
        call(sdk=rig.sdk, operation=op("not_json"), args={}, target=t)


def test_guest_credential_headers_dropped(rig: Rig, api: str) -> None:
    headers = [
        ["Authorization", "Bearer forged"],
        ["Cookie", "s=1"],
        ["X-Api-Key", "k"],
        ["Host", "evil"],
        ["X-Ok", "1"],
    ]
    resp = rig.host.call(
        sdk=rig.sdk, operation=op("get"), args={"path": "/echo", "headers": headers}, target=_target(api)
    )
    got = resp.body["headers"]
    assert "authorization" not in got and "cookie" not in got and "x-api-key" not in got
    assert got["host"] == api.removeprefix("http://") and got["x-ok"] == "1"


def test_per_call_overhead(rig: Rig, api: str) -> None:
    """Not a timed assertion: prints the overhead (instantiate + call) for the report."""
    import httpx

    t = _target(api)
    for _ in range(5):
        _get(rig, api, "/echo")
    n = 50
    started = time.perf_counter()
    for _ in range(n):
        _get(rig, api, "/echo")
    via_wasm = (time.perf_counter() - started) / n
    with httpx.Client() as client:
        started = time.perf_counter()
        for _ in range(n):
            client.get(api + "/echo").json()
        direct = (time.perf_counter() - started) / n
    inst = rig.host._instantiate(rig.sdk, memory_bytes=t.limits.memory_bytes)  # noqa: SLF001
    started = time.perf_counter()
    for _ in range(10):
        rig.host._instantiate(rig.sdk, memory_bytes=t.limits.memory_bytes)  # noqa: SLF001
    instantiate = (time.perf_counter() - started) / 10
    assert inst is not None
    print(
        f"\nper call: via wasm {via_wasm * 1e3:.2f} ms, direct httpx {direct * 1e3:.2f} ms, "
        f"overhead {(via_wasm - direct) * 1e3:.2f} ms; fresh instantiate {instantiate * 1e3:.2f} ms"
    )
