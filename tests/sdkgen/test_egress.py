"""The egress policy on its own: normalization, origin matching and address classification."""

from __future__ import annotations

import ipaddress

import pytest

from activities.errors import EgressDeniedError
from sdkgen.runtime import EgressPolicy, Origin, address_refusal, origin_of


@pytest.mark.parametrize(
    "url,origin",
    [
        ("https://API.Example.com/x", Origin("https", "api.example.com", 443)),
        ("https://api.example.com.:443/", Origin("https", "api.example.com", 443)),
        ("http://api.example.com:80", Origin("http", "api.example.com", 80)),
        ("http://b\u00fccher.example/", Origin("http", "xn--bcher-kva.example", 80)),
        ("http://[::1]:8080/", Origin("http", "::1", 8080)),
        ("http://[0:0::1]/", Origin("http", "::1", 80)),
    ],
)
def test_origin_normalized(url: str, origin: Origin) -> None:
    assert origin_of(url) == origin


@pytest.mark.parametrize(
    "url",
    [
        "ftp://a.example/",
        "http://u:p@a.example/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://a.example:0/",
    ],
)
def test_origin_refused(url: str) -> None:
    with pytest.raises(EgressDeniedError):
        origin_of(url)


def test_policy_exact_origin_and_normalized_url() -> None:
    policy = EgressPolicy.for_origins(["https://api.example.com"])
    assert str(policy.check_url("https://API.example.com.:443/v1?q=1")) == "https://api.example.com/v1?q=1"
    for other in ["http://api.example.com/", "https://api.example.com:444/", "https://x.api.example.com/"]:
        with pytest.raises(EgressDeniedError):
            policy.check_url(other)


def test_private_only_for_listed_origins() -> None:
    policy = EgressPolicy.for_origins(["http://127.0.0.1:9000"], private=["http://127.0.0.1:9000"])
    assert policy.check_url("http://127.0.0.1:9000/x")
    with pytest.raises(EgressDeniedError):
        EgressPolicy.for_origins(["http://127.0.0.1:9000"]).check_url("http://127.0.0.1:9000/x")


@pytest.mark.parametrize(
    "ip,private_ok,refused",
    [
        ("93.184.216.34", False, False),
        ("127.0.0.1", False, True),
        ("127.0.0.1", True, False),
        ("10.1.2.3", True, False),
        ("169.254.169.254", True, True),
        ("fe80::1", True, True),
        ("::ffff:169.254.169.254", True, True),
        ("::ffff:10.0.0.1", False, True),
        ("0.0.0.0", True, True),
        ("224.0.0.1", True, True),
        ("100.64.0.1", False, True),
        ("fd00::1", False, True),
        ("2606:4700::1111", False, False),
    ],
)
def test_address_classification(ip: str, private_ok: bool, refused: bool) -> None:
    assert (address_refusal(ipaddress.ip_address(ip), private_ok=private_ok) is not None) is refused
