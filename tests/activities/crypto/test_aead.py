from __future__ import annotations

import secrets

import pytest

from activities.crypto import encode_aad, open_sealed, seal
from activities.errors import DecryptionFailedError, InvalidInputError


def test_seal_open_round_trip_and_aad_binding() -> None:
    key = secrets.token_bytes(32)
    nonce, ct = seal(key, b"payload", encode_aad("t", "k"))
    assert open_sealed(key, nonce, ct, encode_aad("t", "k"), context="x") == b"payload"
    with pytest.raises(DecryptionFailedError, match="x"):
        open_sealed(key, nonce, ct, encode_aad("u", "k"), context="x")
    with pytest.raises(DecryptionFailedError):
        open_sealed(secrets.token_bytes(32), nonce, ct, encode_aad("t", "k"), context="x")


def test_aad_framing_is_unambiguous() -> None:
    assert encode_aad("ab", "c") != encode_aad("a", "bc")
    assert encode_aad(1) != encode_aad("1")


def test_nonces_do_not_repeat() -> None:
    key = secrets.token_bytes(32)
    nonces = {seal(key, b"", b"")[0] for _ in range(20_000)}
    assert len(nonces) == 20_000


def test_short_key_refused() -> None:
    with pytest.raises(InvalidInputError):
        seal(b"short", b"", b"")
