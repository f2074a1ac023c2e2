"""Pure pieces of the tunnel: frames, URL policy, backoff, signatures."""

from __future__ import annotations

import random

import pytest

from activities.errors import InvalidInputError, TunnelProtocolError
from console_api.gateway import Gateway, GatewaySettings
from mini_connector.tunnel import (
    Backoff,
    InMemoryEd25519Signer,
    Kind,
    check_gateway_url,
    decode_frame,
    encode_frame,
    verify_signature,
)


def test_frames_round_trip_and_reject_garbage() -> None:
    frame = decode_frame(encode_frame(Kind.DATA, 2**32 - 1, b"abc"))
    assert (frame.kind, frame.stream, frame.payload) == (Kind.DATA, 2**32 - 1, b"abc")
    with pytest.raises(TunnelProtocolError, match="shorter"):
        decode_frame(b"\x01\x00")
    with pytest.raises(TunnelProtocolError, match="unknown frame kind 0x12"):
        decode_frame(b"\x12\x00\x00\x00\x01")


@pytest.mark.parametrize(
    "url", ["wss://gw.example.com", "ws://127.0.0.1:8765", "ws://[::1]:1", "ws://localhost"]
)
def test_allowed_gateway_urls(url: str) -> None:
    check_gateway_url(url)


@pytest.mark.parametrize("url", ["ws://gw.example.com", "ws://10.0.0.1:80", "http://127.0.0.1", "https://gw"])
def test_clear_text_or_non_websocket_urls_are_refused(url: str) -> None:
    with pytest.raises(TunnelProtocolError):
        check_gateway_url(url)


def test_gateway_refuses_plain_ws_off_loopback() -> None:
    with pytest.raises(InvalidInputError, match="tls_cert"):
        Gateway(GatewaySettings(host="0.0.0.0", metadata_url="sqlite:///unused.db"))


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    policy = Backoff(base_seconds=0.5, cap_seconds=4.0)
    rng = random.Random(7)
    for attempt in range(20):
        ceiling = min(4.0, 0.5 * 2**attempt)
        delays = [policy.delay(attempt, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # spread over the whole window, not clustered at the top
        assert min(delays) < ceiling * 0.2


def test_signature_verification() -> None:
    signer = InMemoryEd25519Signer()
    import base64

    sig = base64.b64encode(signer.sign(b"m")).decode()
    assert verify_signature(public_key_b64=signer.public_key_b64(), signature_b64=sig, data=b"m")
    assert not verify_signature(public_key_b64=signer.public_key_b64(), signature_b64=sig, data=b"n")
    assert not verify_signature(public_key_b64="bm90IGEga2V5", signature_b64=sig, data=b"m")
