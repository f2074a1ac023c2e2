from __future__ import annotations

import base64

import pytest

from activities.errors import InvalidInputError
from mini_connector.identity import AgentIdentity, AgentKey, hello_payload, verify


def test_hello_payload_is_the_contract_bytes() -> None:
    payload = hello_payload(gateway="gw-1", nonce="bm9uY2U=", tenant="acme", agent_id="edge-1", ts=1700000000)
    assert payload == b"vsc-agent-auth-v1\ngw-1\nbm9uY2U=\nacme\nedge-1\n1700000000"


def test_hello_payload_refuses_newlines_that_would_shift_fields() -> None:
    with pytest.raises(InvalidInputError):
        hello_payload(gateway="gw\nx", nonce="n", tenant="acme", agent_id="edge-1", ts=1)


def test_signature_verifies_with_the_public_key_only() -> None:
    key = AgentKey.generate()
    assert len(base64.b64decode(key.public_key_b64())) == 32
    data = hello_payload(gateway="gw", nonce="n", tenant="acme", agent_id="edge-1", ts=5)
    signature = key.sign(data)
    assert len(signature) == 64
    assert verify(key.public_key_b64(), signature, data)
    assert not verify(key.public_key_b64(), signature, data + b"0")
    assert not verify(AgentKey.generate().public_key_b64(), signature, data)
    assert not verify("not base64!", signature, data)
    assert not verify(key.public_key_b64(), signature[:-1], data)


def test_key_survives_its_vault_form() -> None:
    key = AgentKey.generate()
    again = AgentKey.from_private_b64(key.private_key_b64())
    assert again.public_key_b64() == key.public_key_b64()
    with pytest.raises(InvalidInputError):
        AgentKey.from_private_b64(base64.b64encode(b"short").decode())


def test_identity_never_shows_its_private_key() -> None:
    key = AgentKey.generate()
    identity = AgentIdentity.create(key=key, tenant="acme", agent_id="edge-1", gateway_url="wss://gw")
    secret = key.private_key_b64()
    assert secret not in repr(identity) and secret not in identity.model_dump_json()
    assert secret not in repr(key)
    assert identity.key().public_key_b64() == key.public_key_b64()
