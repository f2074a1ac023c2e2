"""The Temporal payload codec: AES-256-GCM under the tenant's payload key, so histories hold ciphertext.

Every payload a client or worker of a tenant writes (workflow and activity inputs and results,
signal arguments, heartbeat details, and, with the failure converter that encodes common
attributes, failure messages and stack traces) is sealed as a whole protobuf ``Payload``:

    metadata  encoding=binary/encrypted, vsc-tenant=<tenant>, vsc-key-id=<key id>
    data      nonce (12 bytes) | ciphertext | tag (16 bytes)

The tenant and key id are also bound in the associated data, so a payload copied into another
tenant's history, or relabelled, does not open. Payloads without ``binary/encrypted`` (plain JSON
from the stock ``temporal workflow start``) pass through unchanged.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence

from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

from activities.crypto import NONCE_BYTES, DataKey, Keyring, check_tenant, encode_aad, open_sealed, seal
from activities.errors import DecryptionFailedError, PayloadRefusedError, VscError, to_application_error
from workflows.converter import DATA_CONVERTER

ENCRYPTED_ENCODING = b"binary/encrypted"
TENANT_KEY = "vsc-tenant"
KEY_ID_KEY = "vsc-key-id"
PAYLOAD_KEY_LABEL = "vsc-payloadkey-v1"
"""Wrap label of payload keys: a buffer data key file does not unwrap as a payload key, nor back."""
_AAD_LABEL = "vsc-payload-v1"


def is_encrypted(payload: Payload) -> bool:
    """Whether ``payload`` was sealed by this codec (by its encoding)."""
    return payload.metadata.get("encoding") == ENCRYPTED_ENCODING


def payload_tenant(payload: Payload) -> str | None:
    """The tenant an encrypted payload names in its metadata (unauthenticated until opened)."""
    raw = payload.metadata.get(TENANT_KEY)
    return raw.decode(errors="replace") if raw is not None else None


def seal_payload(payload: Payload, *, tenant: str, key: DataKey) -> Payload:
    """Encrypt one payload (metadata and data) for ``tenant`` under ``key``."""
    aad = encode_aad(_AAD_LABEL, tenant, key.key_id)
    nonce, ciphertext = seal(key.key, payload.SerializeToString(deterministic=True), aad)
    return Payload(
        metadata={
            "encoding": ENCRYPTED_ENCODING,
            TENANT_KEY: tenant.encode(),
            KEY_ID_KEY: key.key_id.encode(),
        },
        data=nonce + ciphertext,
    )


def open_payload(payload: Payload, *, tenant: str, keyring: Keyring) -> Payload:
    """Decrypt one payload sealed for ``tenant``.

    Raises:
        PayloadRefusedError: The payload names another tenant, is malformed, or does not authenticate.
        KeyUnavailableError: The tenant has no key by the payload's key id.
    """
    named = payload_tenant(payload)
    if named != tenant:
        raise PayloadRefusedError(
            f"an encrypted payload of tenant {named!r} reached tenant {tenant!r}: refused, not decrypted",
            tenant=tenant,
        )
    raw_id = payload.metadata.get(KEY_ID_KEY)
    if raw_id is None or len(payload.data) < NONCE_BYTES:
        raise PayloadRefusedError(f"malformed encrypted payload of tenant {tenant!r}", tenant=tenant)
    key_id = raw_id.decode(errors="replace")
    key = keyring.get(tenant, key_id)
    aad = encode_aad(_AAD_LABEL, tenant, key_id)
    try:
        plain = open_sealed(
            key.key, payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], aad, context="payload"
        )
        return Payload.FromString(plain)
    except (DecryptionFailedError, DecodeError):
        raise PayloadRefusedError(
            f"an encrypted payload of tenant {tenant!r} does not authenticate (altered, or sealed "
            "under other associated data): refused",
            tenant=tenant,
            key_id=key_id,
        ) from None


class TenantPayloadCodec(PayloadCodec):
    """The payload codec of one tenant; attach it with :func:`encrypting_converter`.

    Keyring calls run in a worker thread: the local keyring may touch files, and the agent's
    gateway keyring blocks on a request to the event loop that carries its session.

    Args:
        tenant: The tenant whose payload keys seal and open everything.
        keyring: Its payload keyring (a :class:`~activities.crypto.LocalKeyring` labelled
            :data:`PAYLOAD_KEY_LABEL`, or the agent's gateway keyring).
    """

    def __init__(self, *, tenant: str, keyring: Keyring) -> None:
        self.tenant = check_tenant(tenant)
        self._keyring = keyring

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Seal every payload, one key message counted each."""
        return await self._translated(self.seal_all, payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Open the tenant's encrypted payloads and pass plain ones through; refuse anything else.

        Raises:
            temporalio.exceptions.ApplicationError: Non-retryable for another tenant's, altered or
                malformed payloads (a workflow task fails the run instead of retrying forever);
                retryable when the key source is only unreachable.
        """
        return await self._translated(self.open_all, payloads)

    def seal_all(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Blocking :meth:`encode` without error translation."""
        return [seal_payload(p, tenant=self.tenant, key=self._keyring.current(self.tenant)) for p in payloads]

    def open_all(self, payloads: Sequence[Payload], *, keep_foreign: bool = False) -> list[Payload]:
        """Blocking :meth:`decode` without error translation.

        Args:
            payloads: What to open.
            keep_foreign: Return other tenants' encrypted payloads unchanged instead of refusing
                them (the codec server: a viewer sees only their own tenant's data).
        """
        out = []
        for p in payloads:
            if not is_encrypted(p) or (keep_foreign and payload_tenant(p) != self.tenant):
                out.append(p)
            else:
                out.append(open_payload(p, tenant=self.tenant, keyring=self._keyring))
        return out

    @staticmethod
    async def _translated(
        fn: Callable[[Sequence[Payload]], list[Payload]], payloads: Sequence[Payload]
    ) -> list[Payload]:
        try:
            return await asyncio.to_thread(fn, payloads)
        except VscError as exc:
            raise to_application_error(exc) from None


def encrypting_converter(*, tenant: str, keyring: Keyring) -> DataConverter:
    """:data:`~workflows.converter.DATA_CONVERTER` with ``tenant``'s codec, failures encoded too.

    Without the encoded-attributes failure converter an error message or stack trace (which may
    quote data) would sit in the history in clear even though every payload is encrypted.
    """
    return dataclasses.replace(
        DATA_CONVERTER,
        payload_codec=TenantPayloadCodec(tenant=tenant, keyring=keyring),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def encrypting_client(client: Client, *, tenant: str, keyring: Keyring) -> Client:
    """A client for ``tenant`` on ``client``'s connection, encrypting with the tenant's codec.

    One connection serves every tenant of a process; only the data converter differs.
    """
    return Client(
        service_client=client.service_client,
        namespace=client.namespace,
        data_converter=encrypting_converter(tenant=tenant, keyring=keyring),
    )
