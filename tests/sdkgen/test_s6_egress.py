"""TESTPLAN S6, egress: a hostile guest asks the host for internal and foreign targets; all are refused.

The guest's ``raw`` operation takes URL and method from its arguments and calls ``host.send``
directly, so these tests exercise the host's checks, not the SDK's good manners. Evidence for
"0 connections": the canary listener on 127.0.0.1 accepted nothing, and neither the transport's
dial counter nor the test fence saw a single connection attempt (``rig.attempts() == 0``).
Public names resolve through the test resolver to public addresses that are never dialled.
"""

# ruff: noqa: F811 - pytest fixtures imported from runtime_fixtures
from __future__ import annotations

from collections.abc import Iterator

import pytest

from activities.errors import ApiUnavailableError, EgressDeniedError
from sdkgen.model import Accessibility
from sdkgen.runtime import CallTarget
from tests.console_api.served import serve
from tests.sdkgen.runtime_api import ApiState, make_api
from tests.sdkgen.runtime_fixtures import (  # noqa: F401
    Canary,
    Rig,
    canary,
    guest_component,
    guest_precompiled,
    make_rig,
    op,
)

ALLOWED = "https://api.example.test"
TABLE = {
    "api.example.test": ["93.184.216.34"],
    "evil.test": ["93.184.216.35"],
    "metadata.google.internal": ["169.254.169.254"],
    "169.254.169.254.nip.io": ["169.254.169.254"],
    "api.example.test.evil.test": ["93.184.216.36"],
    "internal.example.test": ["10.0.0.5"],
    "loopy.example.test": ["127.0.0.1"],
    "mixed.example.test": ["93.184.216.37", "169.254.169.254"],
    "mapped.example.test": ["::ffff:127.0.0.1"],
    "local-meta.example.test": ["169.254.169.254"],
    "rebind.example.test": [["93.184.216.38"], ["127.0.0.1"]],
}

# (id, URL the guest asks for); {c} is the canary's port on 127.0.0.1.
TARGETS = [
    ("metadata-ip", "http://169.254.169.254/latest/meta-data/iam/security-credentials/"),
    ("metadata-gcp-name", "http://metadata.google.internal/computeMetadata/v1/"),
    ("metadata-name-to-ip", "http://169.254.169.254.nip.io/"),
    ("metadata-mapped-v6", "http://[::ffff:169.254.169.254]/"),
    ("loopback-v4", "http://127.0.0.1:{c}/"),
    ("loopback-v4-trailing-dot", "http://127.0.0.1.:{c}/"),
    ("loopback-v6", "http://[::1]:{c}/"),
    ("localhost-name", "http://localhost:{c}/"),
    ("localhost-upper-dot", "http://LOCALHOST.:{c}/"),
    ("unspecified-v4", "http://0.0.0.0:{c}/"),
    ("unspecified-v6", "http://[::]:{c}/"),
    ("rfc1918-10", "http://10.0.0.1/"),
    ("rfc1918-172", "http://172.16.0.1/"),
    ("rfc1918-192", "http://192.168.1.1/"),
    ("cgnat-100-64", "http://100.64.0.1/"),
    ("ula-fd00", "http://[fd00::1]/"),
    ("link-local-v6", "http://[fe80::1]/"),
    ("decimal-ip", "http://2130706433:{c}/"),
    ("octal-ip", "http://0177.0.0.1:{c}/"),
    ("hex-ip", "http://0x7f.1:{c}/"),
    ("hex-int-ip", "http://0x7f000001:{c}/"),
    ("octal-int-ip", "http://017700000001:{c}/"),
    ("short-ip", "http://127.1:{c}/"),
    ("v4-mapped-loopback", "http://[::ffff:127.0.0.1]:{c}/"),
    ("nat64-loopback", "http://[64:ff9b::7f00:1]:{c}/"),
    ("6to4-loopback", "http://[2002:7f00:1::]:{c}/"),
    ("multicast", "http://224.0.0.1/"),
    ("broadcast", "http://255.255.255.255/"),
    ("reserved-240", "http://240.0.0.1/"),
    ("file-scheme", "file:///etc/passwd"),
    ("gopher-scheme", "gopher://127.0.0.1:{c}/_SET%20x%201"),
    ("dict-scheme", "dict://127.0.0.1:{c}/info"),
    ("ftp-scheme", "ftp://api.example.test/"),
    ("userinfo-allowed-at-evil", "https://api.example.test@evil.test/"),
    ("userinfo-to-loopback", "https://api.example.test@127.0.0.1:{c}/"),
    ("suffix-trick", "https://api.example.test.evil.test/"),
    ("allowed-in-query", "https://evil.test/?u=https://api.example.test"),
    ("scheme-downgrade", "http://api.example.test/"),
    ("temporal-port", "https://api.example.test:7233/"),
    ("postgres-port", "https://api.example.test:5432/"),
    ("vault-port", "https://api.example.test:8200/"),
    ("other-port", "https://api.example.test:8443/"),
    ("idn-homograph", "https://\u0430pi.example.test/"),
    ("idn-fullwidth", "https://\uff41\uff50\uff49.example.test/"),
    ("nul-in-host", "https://api.example.test%00.evil.test/"),
    ("foreign-name", "https://evil.test/"),
]


def _cloud(base: str = ALLOWED, **kw: object) -> CallTarget:
    return CallTarget(tenant="t1", api="shop", base_url=base, **kw)  # type: ignore[arg-type]


@pytest.fixture
def s6_rig(guest_precompiled: bytes) -> Iterator[Rig]:
    r = make_rig(guest_precompiled, table=TABLE)
    yield r
    r.host.close()


def _refused(rig: Rig, canary: Canary, url: str, target: CallTarget | None = None) -> EgressDeniedError:
    with pytest.raises(EgressDeniedError) as info:
        rig.host.call(
            sdk=rig.sdk, operation=op("raw"), args={"method": "GET", "url": url}, target=target or _cloud()
        )
    assert rig.attempts() == 0, "a connection was attempted"
    assert canary.accepted == 0, "the canary saw a connection"
    assert rig.audit.events and rig.audit.events[-1].outcome == "denied"
    return info.value


def test_s6_target_count() -> None:
    assert len(TARGETS) + 9 >= 40  # + the connect-time, rebinding, local-agent and redirect cases below


@pytest.mark.parametrize("url", [u for _, u in TARGETS], ids=[i for i, _ in TARGETS])
def test_s6_target_refused(s6_rig: Rig, canary: Canary, url: str) -> None:
    _refused(s6_rig, canary, url.format(c=canary.port))


def test_s6_allowed_name_resolving_to_private_refused_before_dial(s6_rig: Rig, canary: Canary) -> None:
    err = _refused(s6_rig, canary, "https://internal.example.test/", _cloud("https://internal.example.test"))
    assert "private" in err.message


def test_s6_allowed_name_resolving_to_loopback_refused(s6_rig: Rig, canary: Canary) -> None:
    _refused(
        s6_rig,
        canary,
        f"http://loopy.example.test:{canary.port}/",
        _cloud(f"http://loopy.example.test:{canary.port}"),
    )


def test_s6_allowed_name_resolving_to_mapped_loopback_refused(s6_rig: Rig, canary: Canary) -> None:
    _refused(
        s6_rig,
        canary,
        f"http://mapped.example.test:{canary.port}/",
        _cloud(f"http://mapped.example.test:{canary.port}"),
    )


def test_s6_every_resolved_address_checked(s6_rig: Rig, canary: Canary) -> None:
    err = _refused(s6_rig, canary, "https://mixed.example.test/", _cloud("https://mixed.example.test"))
    assert "link-local" in err.message


def test_s6_dns_rebinding_connects_only_to_checked_address(s6_rig: Rig, canary: Canary) -> None:
    target = _cloud("https://rebind.example.test")
    args = {"method": "GET", "url": "https://rebind.example.test/"}
    # First call: resolved once (public), checked, dialled at THAT address (the fence refuses public dials).
    with pytest.raises(ApiUnavailableError):
        s6_rig.host.call(sdk=s6_rig.sdk, operation=op("raw"), args=args, target=target)
    assert s6_rig.resolver.lookups.count("rebind.example.test") == 1
    assert s6_rig.fence.blocked == [("93.184.216.38", 443)] and s6_rig.fence.dials == []
    # Second call: the rebinding answer (127.0.0.1) is refused before any dial.
    with pytest.raises(EgressDeniedError):
        s6_rig.host.call(sdk=s6_rig.sdk, operation=op("raw"), args=args, target=target)
    assert s6_rig.fence.dials == [] and len(s6_rig.fence.blocked) == 1 and canary.accepted == 0


def test_s6_local_agent_api_still_refuses_metadata(s6_rig: Rig, canary: Canary) -> None:
    base = "http://local-meta.example.test"
    target = _cloud(base, accessibility=Accessibility.LOCAL, runs_on="agent")
    _refused(s6_rig, canary, base + "/latest/meta-data/", target)


def test_s6_local_agent_api_cannot_reach_other_private_hosts(s6_rig: Rig, canary: Canary) -> None:
    target = _cloud("http://internal.example.test", accessibility=Accessibility.LOCAL, runs_on="agent")
    _refused(s6_rig, canary, f"http://127.0.0.1:{canary.port}/", target)


def test_s6_swallowed_refusal_still_fails_the_call(s6_rig: Rig, canary: Canary) -> None:
    with pytest.raises(EgressDeniedError):
        s6_rig.host.call(
            sdk=s6_rig.sdk, operation=op("swallow"), args={"url": "http://169.254.169.254/"}, target=_cloud()
        )
    assert s6_rig.attempts() == 0 and canary.accepted == 0


# -- redirects: a real loopback API (the allowed origin) redirecting to internal targets --------


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    with serve(make_api(ApiState())) as base:
        yield base


@pytest.mark.parametrize(
    "location,code",
    [
        ("http://127.0.0.1:{c}/", 302),
        ("http://127.0.0.1:{c}/", 307),
        ("http://[::1]:{c}/", 301),
        ("http://2130706433:{c}/", 308),
        ("http://169.254.169.254/latest/meta-data/", 302),
        ("http://localhost:{c}/", 303),
    ],
    ids=[
        "302-loopback-canary",
        "307-loopback-canary",
        "301-v6-canary",
        "308-decimal",
        "302-metadata",
        "303-localhost",
    ],
)
def test_s6_redirect_to_internal_refused(
    guest_precompiled: bytes, canary: Canary, api: str, location: str, code: int
) -> None:
    rig = make_rig(guest_precompiled, table=TABLE, private_origins=[api])
    try:
        target = _cloud(api)
        to = location.format(c=canary.port)
        with pytest.raises(EgressDeniedError, match="redirect refused"):
            rig.host.call(
                sdk=rig.sdk,
                operation=op("get"),
                args={"path": "/redirect", "query": f"to={to}&code={code}"},
                target=target,
            )
        api_port = int(api.rsplit(":", 1)[1])
        assert rig.fence.dials == [("127.0.0.1", api_port)]  # only the allowed API itself
        assert canary.accepted == 0
    finally:
        rig.host.close()
