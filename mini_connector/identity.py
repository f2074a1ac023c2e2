"""The agent's Ed25519 identity and the exact bytes it signs to prove it to the gateway.

The private key is generated on the agent and never leaves it (it lives in the local vault);
the gateway stores only the base64 of the 32 raw public-key bytes. See the agent protocol v1.
"""

from __future__ import annotations

import base64
import binascii

from pydantic import BaseModel, ConfigDict, SecretStr, field_serializer
from pydantic_core.core_schema import SerializationInfo

from activities.crypto import (
    ED25519_KEY_BYTES,
    ed25519_generate,
    ed25519_public,
    ed25519_sign,
    ed25519_verify,
)
from activities.errors import InvalidInputError

__all__ = ["AUTH_CONTEXT", "AgentIdentity", "AgentKey", "b64decode", "b64encode", "hello_payload", "verify"]

AUTH_CONTEXT = "vsc-agent-auth-v1"
"""Domain-separation label that opens every signed hello, so the signature means nothing elsewhere."""


def b64encode(raw: bytes) -> str:
    """Standard base64 (with padding), the encoding the protocol uses for keys, nonces and signatures."""
    return base64.b64encode(raw).decode("ascii")


def b64decode(value: str, *, what: str) -> bytes:
    """Decode strict standard base64.

    Args:
        value: The base64 text.
        what: What the value is (``public key``, ``signature``), for the error message.

    Raises:
        InvalidInputError: The text is not valid base64.
    """
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(f"{what} is not valid base64") from None


def hello_payload(*, gateway: str, nonce: str, tenant: str, agent_id: str, ts: int) -> bytes:
    """The UTF-8 bytes an agent signs in its hello, exactly as the contract spells them.

    Args:
        gateway: Gateway id from the challenge.
        nonce: The challenge nonce, as the base64 text the gateway sent.
        tenant: The agent's tenant.
        agent_id: The agent's id (= connector id).
        ts: The agent's clock in unix seconds.

    Raises:
        InvalidInputError: A field contains a newline, which would let two field tuples sign alike.
    """
    fields = (gateway, nonce, tenant, agent_id)
    if any("\n" in field for field in fields):
        raise InvalidInputError("hello fields must not contain newlines")
    return "\n".join((AUTH_CONTEXT, *fields, str(int(ts)))).encode("utf-8")


def verify(public_key_b64: str, signature: bytes, data: bytes) -> bool:
    """Whether ``signature`` over ``data`` was made by the holder of ``public_key_b64``.

    A malformed key counts as a failed verification, so callers facing untrusted input handle one outcome.
    """
    try:
        public = b64decode(public_key_b64, what="public key")
    except InvalidInputError:
        return False
    return ed25519_verify(public, signature, data)


class AgentKey:
    """An Ed25519 key pair held in memory; satisfies the gateway client's ``Signer`` protocol.

    Args:
        private_key: The 32 raw private-key bytes.
    """

    def __init__(self, private_key: bytes) -> None:
        if len(private_key) != ED25519_KEY_BYTES:
            raise InvalidInputError(
                f"an agent private key is {ED25519_KEY_BYTES} bytes, got {len(private_key)}"
            )
        self._private = private_key
        self._public = ed25519_public(private_key)

    def __repr__(self) -> str:
        return f"AgentKey(public={self.public_key_b64()})"

    @classmethod
    def generate(cls) -> AgentKey:
        """A fresh random key pair."""
        return cls(ed25519_generate())

    @classmethod
    def from_private_b64(cls, value: str) -> AgentKey:
        """Load a key pair from the base64 of its raw private key (the vault's form).

        Raises:
            InvalidInputError: Not base64, or not 32 bytes.
        """
        return cls(b64decode(value, what="agent private key"))

    def private_key_b64(self) -> str:
        """The base64 of the raw private key, for the vault only."""
        return b64encode(self._private)

    def public_key_b64(self) -> str:
        """The base64 of the 32 raw public-key bytes, as the gateway stores it."""
        return b64encode(self._public)

    def sign(self, data: bytes) -> bytes:
        """Sign ``data``; returns the 64-byte Ed25519 signature."""
        return ed25519_sign(self._private, data)


class AgentIdentity(BaseModel):
    """Who this agent is, as enrolled: kept in the vault, never sent anywhere but the public key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant: str
    agent_id: str
    gateway_url: str
    private_key: SecretStr
    """Base64 of the raw Ed25519 private key."""

    @field_serializer("private_key")
    def _reveal_only_for_the_vault(self, value: SecretStr, info: SerializationInfo) -> str:
        return value.get_secret_value() if (info.context or {}).get("reveal_secrets") else str(value)

    @classmethod
    def create(cls, *, key: AgentKey, tenant: str, agent_id: str, gateway_url: str) -> AgentIdentity:
        """An identity holding ``key``."""
        return cls(
            tenant=tenant,
            agent_id=agent_id,
            gateway_url=gateway_url,
            private_key=SecretStr(key.private_key_b64()),
        )

    def key(self) -> AgentKey:
        """The key pair, to sign the gateway's challenge."""
        return AgentKey.from_private_b64(self.private_key.get_secret_value())
