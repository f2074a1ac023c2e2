"""The payload codec on its own: round trip, pass-through, tamper and cross-tenant refusal, failures."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.exceptions import ApplicationError

from activities.crypto import LocalKeyring
from activities.errors import KeyUnavailableError
from activities.payload_codec import (
    ENCRYPTED_ENCODING,
    KEY_ID_KEY,
    TENANT_KEY,
    TenantPayloadCodec,
    encrypting_converter,
)
from activities.settings import BufferConfig
from activities.wiring import build_keyring, build_payload_keyring
from workflows.converter import DATA_CONVERTER

SECRET = "canary-4f1e9c"


def buffer_config(root: Path) -> BufferConfig:
    return BufferConfig(keyring_dir=root / "keys", master_keyfile=root / "master.key")


@pytest.fixture
def keyring(tmp_path: Path) -> LocalKeyring:
    return build_payload_keyring(buffer_config(tmp_path), keyring_dir=tmp_path / "payload-keys")


def tenant() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


async def sealed(codec: TenantPayloadCodec, value: object) -> Payload:
    [plain] = DATA_CONVERTER.payload_converter.to_payloads([value])
    [payload] = await codec.encode([plain])
    return payload


async def assert_refused(codec: TenantPayloadCodec, payload: Payload, type_name: str, text: str) -> None:
    with pytest.raises(ApplicationError) as caught:
        await codec.decode([payload])
    assert caught.value.non_retryable is True
    assert caught.value.type == type_name
    assert text in caught.value.message


async def test_codec_round_trip_keeps_metadata_and_hides_data(keyring: LocalKeyring) -> None:
    t = tenant()
    codec = TenantPayloadCodec(tenant=t, keyring=keyring)
    [plain] = DATA_CONVERTER.payload_converter.to_payloads([{"password_hint": SECRET}])
    [payload] = await codec.encode([plain])
    assert payload.metadata["encoding"] == ENCRYPTED_ENCODING
    assert payload.metadata[TENANT_KEY] == t.encode()
    assert len(payload.metadata[KEY_ID_KEY]) == 32
    assert SECRET.encode() not in payload.SerializeToString()
    assert b"json/plain" not in payload.SerializeToString()  # the inner metadata is sealed too
    assert await codec.decode([payload]) == [plain]


async def test_codec_passes_plain_payloads_through(keyring: LocalKeyring) -> None:
    codec = TenantPayloadCodec(tenant=tenant(), keyring=keyring)
    plain = DATA_CONVERTER.payload_converter.to_payloads([{"a": 1}, None, "text"])
    assert await codec.decode(plain) == plain


async def test_codec_refuses_a_tampered_payload(keyring: LocalKeyring) -> None:
    codec = TenantPayloadCodec(tenant=tenant(), keyring=keyring)
    payload = await sealed(codec, {"v": SECRET})
    altered = bytearray(payload.data)
    altered[-1] ^= 1
    payload.data = bytes(altered)
    await assert_refused(codec, payload, "PayloadRefusedError", "does not authenticate")


async def test_codec_refuses_another_tenants_payload(keyring: LocalKeyring) -> None:
    a, b = tenant(), tenant()
    payload = await sealed(TenantPayloadCodec(tenant=b, keyring=keyring), {"v": SECRET})
    await assert_refused(
        TenantPayloadCodec(tenant=a, keyring=keyring), payload, "PayloadRefusedError", f"of tenant {b!r}"
    )


async def test_codec_refuses_a_payload_relabelled_to_the_tenant(keyring: LocalKeyring) -> None:
    a, b = tenant(), tenant()
    codec_a = TenantPayloadCodec(tenant=a, keyring=keyring)
    await sealed(codec_a, "a's own key exists")
    payload = await sealed(TenantPayloadCodec(tenant=b, keyring=keyring), {"v": SECRET})
    payload.metadata[TENANT_KEY] = a.encode()  # b's key id is unknown to a
    await assert_refused(codec_a, payload, "KeyUnavailableError", "has no data key")
    payload.metadata[KEY_ID_KEY] = keyring.current(a).key_id.encode()  # a's key, b's ciphertext
    await assert_refused(codec_a, payload, "PayloadRefusedError", "does not authenticate")


async def test_codec_refuses_a_malformed_encrypted_payload(keyring: LocalKeyring) -> None:
    t = tenant()
    codec = TenantPayloadCodec(tenant=t, keyring=keyring)
    payload = Payload(metadata={"encoding": ENCRYPTED_ENCODING, TENANT_KEY: t.encode()}, data=b"x")
    await assert_refused(codec, payload, "PayloadRefusedError", "malformed")


def test_payload_keys_are_not_buffer_keys(tmp_path: Path, keyring: LocalKeyring) -> None:
    t = tenant()
    buffer_keyring = build_keyring(buffer_config(tmp_path))
    key = buffer_keyring.current(t)
    target = tmp_path / "payload-keys" / t / "keys"
    target.mkdir(parents=True)
    shutil.copy(tmp_path / "keys" / t / "keys" / f"{key.key_id}.json", target)
    with pytest.raises(KeyUnavailableError, match="cannot be unwrapped"):
        keyring.get(t, key.key_id)


async def test_failure_message_and_stack_trace_are_encrypted(keyring: LocalKeyring) -> None:
    t = tenant()
    converter = encrypting_converter(tenant=t, keyring=keyring)
    failure = Failure()
    try:
        raise ApplicationError(f"table {SECRET} does not exist", type="TableNotFoundError")
    except ApplicationError as exc:
        await converter.encode_failure(exc, failure)
    assert SECRET.encode() not in failure.SerializeToString()
    assert failure.message == "Encoded failure" and failure.stack_trace == ""
    assert failure.encoded_attributes.metadata["encoding"] == ENCRYPTED_ENCODING
    decoded = await converter.decode_failure(failure)
    assert isinstance(decoded, ApplicationError) and SECRET in decoded.message
    assert decoded.type == "TableNotFoundError"


async def test_plain_converter_keeps_failure_messages_readable_for_control() -> None:
    failure = Failure()
    await DATA_CONVERTER.encode_failure(ApplicationError(SECRET), failure)
    assert SECRET.encode() in failure.SerializeToString()  # what the encrypting converter prevents
