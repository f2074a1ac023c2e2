"""The console's one door to ``sdkgen``: validate a spec, publish its SDK, diff two versions, fetch a URL.

Every call the API makes into the spec loader, the builder, the diff and the runtime's egress
policy goes through this module, so the routes never depend on their signatures directly.
"""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

import httpx

from activities.api_specs import fetch_document
from activities.artifacts import ArtifactRegistry
from activities.errors import EgressDeniedError
from console_api.api.settings import ApiSettings
from sdkgen.build import SdkArtifacts, publish_sdk
from sdkgen.diff import ApiChange, ApiDiff, diff_apis, render_report
from sdkgen.model import ApiDescription
from sdkgen.operations import describe
from sdkgen.runtime import DialGuard, EgressPolicy, Resolver, guarded_transport, origin_of, system_resolver
from sdkgen.spec import load_spec

__all__ = [
    "ApiChange",
    "ApiDiff",
    "SdkArtifacts",
    "describe_spec",
    "publish",
    "compare",
    "diff_changes",
    "report",
    "fetch_internet_spec",
]


def describe_spec(data: bytes) -> ApiDescription:
    """Validate an OpenAPI document and describe its operations.

    Raises:
        SpecInvalidError: Malformed, hostile or unsupported; ``pointer`` locates the fault.
    """
    return describe(load_spec(data))


def publish(
    *, registry: ArtifactRegistry, settings: ApiSettings, tenant: str, spec_bytes: bytes, desc: ApiDescription
) -> SdkArtifacts:
    """Render, compile and store the SDK of ``desc`` (cached by build key under the settings' cache dir).

    Raises:
        SdkBuildError: Rendering or compiling failed; nothing was published.
    """
    settings.sdk_cache_dir.mkdir(parents=True, exist_ok=True)
    return publish_sdk(
        registry=registry, tenant=tenant, spec_bytes=spec_bytes, desc=desc, cache_dir=settings.sdk_cache_dir
    )


def compare(old: ApiDescription, new: ApiDescription) -> ApiDiff:
    """The changes from ``old`` to ``new``, each classified breaking or not."""
    return diff_apis(old, new)


def diff_changes(diff: ApiDiff) -> list[ApiChange]:
    """The changes, breaking ones first (stable within each group)."""
    return sorted(diff.changes, key=lambda change: not change.breaking)


def report(diff: ApiDiff) -> str:
    """The human-readable diff report (what ``vsc api diff`` prints)."""
    return render_report(diff)


def _guarded_transport(
    url: str, *, allowed_origins: list[str], resolver: Resolver, dial_guard: DialGuard | None
) -> httpx.HTTPTransport:
    """A transport that may connect only to ``url``'s origin, and to private space only if allowed.

    The runtime's egress policy: the URL is checked before anything is sent, the host is
    resolved once and every address checked, and the checked address is dialled (no rebinding).
    """
    try:
        allowed = {origin_of(o) for o in allowed_origins}
        private = [url] if origin_of(url) in allowed else []
        policy = EgressPolicy.for_origins([url], private=private)
        policy.check_url(url)
    except EgressDeniedError as exc:
        raise _denied(url, exc) from None
    return guarded_transport(
        policy, ssl_context=ssl.create_default_context(), resolver=resolver, dial_guard=dial_guard
    )


def _denied(url: str, exc: EgressDeniedError) -> EgressDeniedError:
    return EgressDeniedError(
        f"the console may not fetch {urlsplit(url).hostname!r}: {exc.message}; the spec of a local API "
        "is fetched by its agent (accessibility `local`), or the operator allows the origin"
    )


def fetch_internet_spec(
    url: str,
    *,
    settings: ApiSettings,
    resolver: Resolver = system_resolver,
    dial_guard: DialGuard | None = None,
) -> bytes:
    """Fetch an internet API's spec from the console itself, under the runtime's egress policy.

    Raises:
        EgressDeniedError: The URL is or resolves to a private, link-local or reserved address
            (nothing was sent to it).
        SpecUnreachableError: Refused, timed out, not 200, or too large.
    """
    transport = _guarded_transport(
        url, allowed_origins=settings.spec_fetch_allowed_origins, resolver=resolver, dial_guard=dial_guard
    )
    try:
        return fetch_document(
            url,
            max_bytes=settings.spec_max_bytes,
            timeout_seconds=settings.spec_fetch_timeout_seconds,
            transport=transport,
        )
    except EgressDeniedError as exc:
        raise _denied(url, exc) from None
