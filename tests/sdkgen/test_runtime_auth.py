"""Credential injection by the host against a loopback API: API key, Basic, Bearer, OAuth2 with refresh."""

# ruff: noqa: F811 - pytest fixtures imported from runtime_fixtures
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from activities.errors import AuthenticationFailedError, EgressDeniedError
from sdkgen.model import (
    Accessibility,
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    OAuth2ClientCredentials,
)
from sdkgen.runtime import CallTarget
from tests.console_api.served import serve
from tests.sdkgen.runtime_api import ApiState, make_api
from tests.sdkgen.runtime_fixtures import (  # noqa: F401
    Rig,
    guest_component,
    guest_precompiled,
    make_rig,
    op,
    rig,
)

SECRETS = ["k3y-s3cret", "basic-s3cret", "b3arer-s3cret", "client-s3cret"]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, ApiState]]:
    state = ApiState()
    with serve(make_api(state)) as base:
        yield base, state


def _target(base: str, auth: Any, secret: str | None) -> CallTarget:
    return CallTarget(
        tenant="t1",
        api="shop",
        base_url=base,
        accessibility=Accessibility.LOCAL,
        runs_on="agent",
        auth=auth,
        secret=None if secret is None else SecretStr(secret),
    )


def _get(rig: Rig, target: CallTarget, path: str, query: str = "", headers: Any = ()) -> Any:
    args = {"path": path, "query": query, "headers": [list(h) for h in headers]}
    return rig.host.call(sdk=rig.sdk, operation=op("get"), args=args, target=target)


def _assert_no_secret_leaked(rig: Rig, *texts: str) -> None:
    dumped = " ".join(e.model_dump_json() for e in rig.audit.events) + " ".join(texts)
    for secret in SECRETS:
        assert secret not in dumped


def test_api_key_header(rig: Rig, served: tuple[str, ApiState]) -> None:
    base, _ = served
    t = _target(base, ApiKeyAuth(name="X-Api-Key"), "k3y-s3cret")
    resp = _get(rig, t, "/echo", headers=[("X-Api-Key", "forged")])
    assert resp.body["headers"]["x-api-key"] == "k3y-s3cret"
    _assert_no_secret_leaked(rig)


def test_api_key_query_replaces_guest_value(rig: Rig, served: tuple[str, ApiState]) -> None:
    base, _ = served
    t = _target(base, ApiKeyAuth(name="api_key", location="query"), "k3y-s3cret")
    resp = _get(rig, t, "/echo", "api_key=forged&API_KEY=x&q=1")
    assert resp.body["query"] == {"q": "1", "api_key": "k3y-s3cret"}
    _assert_no_secret_leaked(rig)


def test_basic_over_loopback(rig: Rig, served: tuple[str, ApiState]) -> None:
    base, _ = served
    assert _get(rig, _target(base, BasicAuth(username="alice"), "basic-s3cret"), "/basic").body == {
        "ok": True
    }
    with pytest.raises(AuthenticationFailedError) as info:
        _get(rig, _target(base, BasicAuth(username="alice"), "wrong"), "/basic")
    _assert_no_secret_leaked(rig, str(info.value))


def test_basic_refused_over_plain_http_to_a_name(guest_precompiled: bytes) -> None:
    rig = make_rig(guest_precompiled, table={"api.example.test": ["93.184.216.34"]})
    t = CallTarget(
        tenant="t1",
        api="shop",
        base_url="http://api.example.test",
        auth=BasicAuth(username="alice"),
        secret=SecretStr("basic-s3cret"),
    )
    with pytest.raises(EgressDeniedError, match="HTTPS or to loopback") as info:
        _get(rig, t, "/basic")
    assert rig.attempts() == 0
    _assert_no_secret_leaked(rig, str(info.value))


def test_bearer(rig: Rig, served: tuple[str, ApiState]) -> None:
    base, _ = served
    resp = _get(rig, _target(base, BearerAuth(), "b3arer-s3cret"), "/echo", headers=[("Authorization", "x")])
    assert resp.body["headers"]["authorization"] == "Bearer b3arer-s3cret"
    _assert_no_secret_leaked(rig)


def _oauth(base: str, secret: str = "client-s3cret") -> CallTarget:
    return _target(base, OAuth2ClientCredentials(token_url=base + "/token", client_id="cid"), secret)


def test_oauth2_token_reused_before_expiry(rig: Rig, served: tuple[str, ApiState]) -> None:
    base, state = served
    state.token_lifetime, before = 3600, state.token_requests
    for _ in range(3):
        assert _get(rig, _oauth(base), "/protected").body["ok"] is True
    assert state.token_requests - before == 1
    assert [e.operation for e in rig.audit.events].count("oauth2_token") == 1
    _assert_no_secret_leaked(rig)


def test_oauth2_refreshed_near_expiry(rig: Rig, served: tuple[str, ApiState]) -> None:
    base, state = served
    state.token_lifetime, before = 30, state.token_requests  # below the 60 s margin: every call refreshes
    first = _get(rig, _oauth(base), "/protected").body["token"]
    second = _get(rig, _oauth(base), "/protected").body["token"]
    assert first != second and state.token_requests - before == 2
    state.token_lifetime = 3600


def test_oauth2_refresh_once_on_401_then_fail(rig: Rig, served: tuple[str, ApiState]) -> None:
    base, state = served
    state.token_lifetime = 3600
    token = _get(rig, _oauth(base), "/protected").body["token"]
    state.revoked.add(token)  # the API revokes it early: one refresh, then the call works
    before = state.token_requests
    assert _get(rig, _oauth(base), "/protected").body["token"] != token
    assert state.token_requests - before == 1
    state.refuse_all = True  # every token is now refused: one refresh, then AuthenticationFailedError
    before = state.token_requests
    try:
        with pytest.raises(AuthenticationFailedError) as info:
            _get(rig, _oauth(base), "/protected")
    finally:
        state.refuse_all = False
    assert state.token_requests - before == 1
    _assert_no_secret_leaked(rig, str(info.value))


def test_oauth2_bad_client_secret(rig: Rig, served: tuple[str, ApiState]) -> None:
    base, _ = served
    with pytest.raises(AuthenticationFailedError, match="refused the client credentials") as info:
        _get(rig, _oauth(base, "wrong-secret"), "/protected")
    assert "wrong-secret" not in str(info.value)


def test_oauth2_token_url_goes_through_egress(rig: Rig, served: tuple[str, ApiState]) -> None:
    base, _ = served
    t = _target(
        base,
        OAuth2ClientCredentials(token_url="http://169.254.169.254/token", client_id="cid"),
        "client-s3cret",
    )
    with pytest.raises(EgressDeniedError):
        _get(rig, t, "/protected")
    _assert_no_secret_leaked(rig)
