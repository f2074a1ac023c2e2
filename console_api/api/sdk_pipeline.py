"""The console's one door to ``sdkgen``: validate a spec, publish its SDK, diff two versions, fetch a URL.

Every call the API makes into the spec loader, the builder, the diff and the runtime's egress
policy goes through this module, so the routes never depend on their signatures directly.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from sdkgen.build import SdkArtifacts, publish_sdk
from sdkgen.diff import ApiDiff, diff_apis, render_report
from sdkgen.operations import describe
from sdkgen.spec import load_spec

from activities.api_specs import fetch_document
from activities.artifacts import ArtifactRegistry
from activities.errors import EgressDeniedError
from console_api.api.settings import ApiSettings
from sdkgen.model import ApiDescription

__all__ = [
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


def diff_changes(diff: ApiDiff) -> list[dict[str, Any]]:
    """The changes as JSON objects, breaking ones first (stable within each group)."""
    changes = [change.model_dump(mode="json") for change in diff.changes]
    return sorted(changes, key=lambda change: not change.get("breaking", False))


def report(diff: ApiDiff) -> str:
    """The human-readable diff report (what ``vsc api diff`` prints)."""
    return render_report(diff)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def _normalised(origin: str) -> str:
    return _origin(origin if "://" in origin else f"http://{origin}")


def public_only(*, allowed_origins: list[str]) -> Any:
    """A URL check: the host must resolve only to global addresses, unless its origin is allowed.

    Resolution happens before any connect, so a private, loopback, link-local (metadata) or
    reserved target is refused without a packet sent to it.
    """
    allowed = {_normalised(o) for o in allowed_origins}

    def check(url: str) -> None:
        if _origin(url) in allowed:
            return
        host = urlsplit(url).hostname or ""
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise EgressDeniedError(f"the spec host {host!r} does not resolve") from None
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
            mapped = getattr(address, "ipv4_mapped", None)
            if not (mapped or address).is_global:
                raise EgressDeniedError(
                    f"the spec host {host!r} is a private or reserved address; the console fetches "
                    "only public URLs (register a local API with accessibility `local` so its agent "
                    "fetches it, or ask the operator to allow the origin)"
                )

    return check


def fetch_internet_spec(url: str, *, settings: ApiSettings) -> bytes:
    """Fetch an internet API's spec from the console itself, under the egress policy.

    Raises:
        EgressDeniedError: The URL points at a private or reserved address (nothing was sent).
        SpecUnreachableError: Refused, timed out, not 200, or too large.
    """
    return fetch_document(
        url,
        max_bytes=settings.spec_max_bytes,
        timeout_seconds=settings.spec_fetch_timeout_seconds,
        check=public_only(allowed_origins=settings.spec_fetch_allowed_origins),
    )
