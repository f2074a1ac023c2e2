"""Credential injection: the host adds the registration's credential to each request; the guest never sees it.

Whatever the guest put in ``Authorization``, ``Proxy-Authorization``, ``Cookie`` or an API-key
header/parameter is dropped first, so hostile SDK code can neither read nor forge credentials.
OAuth 2.0 client-credential tokens are cached per (tenant, api), refreshed when they are about to
expire and once more when the API answers 401. The token URL goes through the same egress checks
as the API, with its own origin as the only allowed one.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from activities.errors import ApiUnavailableError, AuthenticationFailedError, EgressDeniedError
from sdkgen.model import ApiKeyAuth, BasicAuth, BearerAuth, NoAuth, OAuth2ClientCredentials
from sdkgen.runtime._target import CallTarget

GUEST_FORBIDDEN_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-api-key",
        "api-key",
        "apikey",
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "upgrade",
        "te",
        "trailer",
        "expect",
        "keep-alive",
    }
)
"""Headers a guest may never set: credentials, and framing/routing headers the host owns."""


@dataclass(frozen=True)
class RawResponse:
    """An HTTP response as the host read it (body already bounded and decoded)."""

    status: int
    headers: dict[str, str]
    body: bytes


TokenPoster = Callable[[CallTarget, str, dict[str, str], dict[str, str]], RawResponse]
"""(target, token URL, form fields, headers) -> response: posts to a token endpoint through egress."""


@dataclass
class _Token:
    value: str
    expires_at: float


class OAuth2Tokens:
    """The token cache of one host process, keyed by (tenant, api, token URL, client id)."""

    def __init__(self, *, refresh_margin_s: float = 60.0, default_lifetime_s: float = 300.0) -> None:
        self.refresh_margin_s = refresh_margin_s
        self._default_lifetime_s = default_lifetime_s
        self._tokens: dict[tuple[str, str, str, str], _Token] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(target: CallTarget, auth: OAuth2ClientCredentials) -> tuple[str, str, str, str]:
        return (target.tenant, target.api, auth.token_url, auth.client_id)

    def token(self, target: CallTarget, auth: OAuth2ClientCredentials, post: TokenPoster) -> str:
        """A valid access token: the cached one unless it expires within the refresh margin."""
        key = self._key(target, auth)
        with self._lock:
            cached = self._tokens.get(key)
        if cached is not None and cached.expires_at - time.monotonic() > self.refresh_margin_s:
            return cached.value
        fresh = self._fetch(target, auth, post)
        with self._lock:
            self._tokens[key] = fresh
        return fresh.value

    def invalidate(self, target: CallTarget, auth: OAuth2ClientCredentials) -> None:
        """Forget the cached token (the API answered 401 with it)."""
        with self._lock:
            self._tokens.pop(self._key(target, auth), None)

    def _fetch(self, target: CallTarget, auth: OAuth2ClientCredentials, post: TokenPoster) -> _Token:
        if target.secret is None:
            raise AuthenticationFailedError("OAuth2 client credentials registered without a client secret")
        form = {
            "grant_type": "client_credentials",
            "client_id": auth.client_id,
            "client_secret": target.secret.get_secret_value(),
        }
        if auth.scopes:
            form["scope"] = " ".join(auth.scopes)
        started = time.monotonic()
        resp = post(target, auth.token_url, form, {"accept": "application/json"})
        if resp.status >= 500 or resp.status == 429:
            raise ApiUnavailableError("the OAuth2 token endpoint is unavailable", status=resp.status)
        if resp.status != 200:
            raise AuthenticationFailedError(
                "the OAuth2 token endpoint refused the client credentials", status=resp.status
            )
        try:
            doc = json.loads(resp.body)
            access = doc["access_token"]
            lifetime = float(doc.get("expires_in", self._default_lifetime_s))
        except (ValueError, KeyError, TypeError):
            raise AuthenticationFailedError(
                "the OAuth2 token endpoint answered without a usable token"
            ) from None
        if not isinstance(access, str) or not access:
            raise AuthenticationFailedError("the OAuth2 token endpoint answered without a usable token")
        return _Token(access, started + lifetime)


def strip_guest_headers(headers: list[tuple[str, str]], target: CallTarget) -> dict[str, str]:
    """The guest's headers minus everything credential- or framing-related (names lower-cased)."""
    extra = {target.auth.name.lower()} if isinstance(target.auth, ApiKeyAuth) else set()
    out: dict[str, str] = {}
    for name, value in headers:
        low = name.strip().lower()
        if not low or low in GUEST_FORBIDDEN_HEADERS or low in extra or any(c in value for c in "\r\n"):
            continue
        out[low] = value
    return out


def _is_loopback_url(url: httpx.URL) -> bool:
    import ipaddress

    host = url.host.lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def inject(
    *, target: CallTarget, url: httpx.URL, headers: dict[str, str], tokens: OAuth2Tokens, post: TokenPoster
) -> httpx.URL:
    """Add the registration's credential to ``headers`` (or the query); returns the URL to send.

    Raises:
        EgressDeniedError: HTTP Basic over plain HTTP to a non-loopback host.
        AuthenticationFailedError: No secret registered, or the token endpoint refused.
    """
    auth = target.auth
    if isinstance(auth, NoAuth):
        return url
    if isinstance(auth, ApiKeyAuth) and auth.location == "query":
        # Drop any guest-set parameter of the same name first, whatever its case.
        kept = [(k, v) for k, v in url.params.multi_items() if k.lower() != auth.name.lower()]
        url = url.copy_with(params=kept)
    if isinstance(auth, OAuth2ClientCredentials):
        headers["authorization"] = "Bearer " + tokens.token(target, auth, post)
        return url
    if target.secret is None:
        raise AuthenticationFailedError(f"the API's {auth.kind} credential has no secret registered")
    secret = target.secret.get_secret_value()
    if isinstance(auth, ApiKeyAuth):
        if auth.location == "header":
            headers[auth.name.lower()] = secret
            return url
        return url.copy_add_param(auth.name, secret)
    if isinstance(auth, BasicAuth):
        if url.scheme != "https" and not _is_loopback_url(url):
            raise EgressDeniedError("HTTP Basic credentials are only sent over HTTPS or to loopback")
        pair = f"{auth.username}:{secret}".encode()
        headers["authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        return url
    if isinstance(auth, BearerAuth):
        headers["authorization"] = "Bearer " + secret
        return url
    raise AuthenticationFailedError("unsupported auth kind")
