"""What the agent's vault holds: its identity, its named database credentials and its API secrets."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    SecretStr,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_core.core_schema import SerializationInfo
from sqlalchemy.engine import make_url

from activities.connections import ConnectionProfile, masked_url
from activities.errors import InvalidInputError
from mini_connector.identity import AgentIdentity

__all__ = ["MAX_API_SECRET_CHARS", "CredentialKind", "VaultApiSecret", "VaultContents", "VaultCredential"]

CredentialKind = Literal["postgresql", "mysql", "mariadb", "sqlite"]
_BACKENDS = {
    "postgresql": {"postgresql", "postgres"},
    "mysql": {"mysql", "mariadb"},
    "mariadb": {"mysql", "mariadb"},
    "sqlite": {"sqlite"},
}
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
MAX_API_SECRET_CHARS = 16384


def _check_name(value: str) -> str:
    if not value or len(value) > 63 or not set(value) <= _NAME_CHARS:
        raise ValueError("must be 1-63 characters of letters, digits, '_', '-' or '.'")
    return value


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'entry'}: {e['msg']}"
        for e in exc.errors(include_input=False, include_url=False)
    )


class VaultCredential(BaseModel):
    """One named endpoint with its secret URL; only the name, kind and masked URL may be shown."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: CredentialKind
    url: SecretStr
    write: bool = False
    location: Literal["local", "cloud"] = "local"

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        return _check_name(value)

    @field_validator("url")
    @classmethod
    def _parsable_url(cls, value: SecretStr) -> SecretStr:
        try:
            make_url(value.get_secret_value())
        except Exception:  # the parser's message may quote the URL, which holds the secret
            raise ValueError("is not a database URL (expected e.g. postgresql://user:pw@host/db)") from None
        return value

    @model_validator(mode="after")
    def _url_matches_kind(self) -> VaultCredential:
        backend = make_url(self.url.get_secret_value()).get_backend_name()
        if backend not in _BACKENDS[self.kind]:
            raise ValueError(f"the URL is a {backend} URL but kind is {self.kind}")
        return self

    @field_serializer("url")
    def _reveal_only_for_the_vault(self, value: SecretStr, info: SerializationInfo) -> str:
        return value.get_secret_value() if (info.context or {}).get("reveal_secrets") else str(value)

    @classmethod
    def build(cls, **fields: Any) -> VaultCredential:
        """Validate user input into a credential.

        Raises:
            InvalidInputError: Naming the credential and the bad field, never echoing the URL.
        """
        try:
            return cls.model_validate(fields)
        except ValidationError as exc:
            name = fields.get("name", "?")
            raise InvalidInputError(
                f"credential {name!r} is invalid: {_problems(exc)}", connection=str(name)
            ) from None

    def masked_url(self) -> str:
        """The URL with its password replaced by ``***``."""
        return masked_url(self.url)

    def profile(self) -> ConnectionProfile:
        """The connection profile the SQL connectors and the worker's registry take."""
        return ConnectionProfile(
            name=self.name, kind=self.kind, url=self.url, write=self.write, location=self.location
        )


class VaultApiSecret(BaseModel):
    """The secret of one user API (API key, Basic password, bearer token or OAuth2 client secret).

    Registered APIs name it as their credential reference; the SDK host injects it into requests
    on this machine, so it never reaches the cloud. Only the name may be shown.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    secret: SecretStr

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        return _check_name(value)

    @field_validator("secret")
    @classmethod
    def _usable_secret(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if not raw or len(raw) > MAX_API_SECRET_CHARS:
            raise ValueError(f"must be 1-{MAX_API_SECRET_CHARS} characters")
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in raw):
            # a header value with a newline or NUL would be refused (or worse, split) at call time
            raise ValueError("must not contain control characters (newlines, tabs, NUL)")
        return value

    @field_serializer("secret")
    def _reveal_only_for_the_vault(self, value: SecretStr, info: SerializationInfo) -> str:
        return value.get_secret_value() if (info.context or {}).get("reveal_secrets") else str(value)

    @classmethod
    def build(cls, *, name: str, secret: str) -> VaultApiSecret:
        """Validate user input into an API secret.

        Raises:
            InvalidInputError: Naming the secret and the bad field, never echoing the value.
        """
        try:
            return cls.model_validate({"name": name, "secret": secret})
        except ValidationError as exc:
            raise InvalidInputError(
                f"API secret {name!r} is invalid: {_problems(exc)}", connection=name
            ) from None


class VaultContents(BaseModel):
    """The whole plaintext of the vault; lives in memory only while a command runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    identity: AgentIdentity | None = None
    credentials: tuple[VaultCredential, ...] = ()
    api_secrets: tuple[VaultApiSecret, ...] = ()

    def to_bytes(self) -> bytes:
        """Serialise with secrets revealed, for sealing only."""
        return self.model_dump_json(context={"reveal_secrets": True}).encode("utf-8")

    @classmethod
    def from_bytes(cls, raw: bytes) -> VaultContents:
        """Parse what :meth:`to_bytes` produced (after authenticated decryption).

        Raises:
            InvalidInputError: The plaintext is not a vault document of this version.
        """
        try:
            return cls.model_validate(json.loads(raw))
        except (ValueError, ValidationError):
            raise InvalidInputError("vault contents are not a valid vault document") from None

    def credential(self, name: str) -> VaultCredential | None:
        """The credential called ``name``, if any."""
        return next((c for c in self.credentials if c.name == name), None)

    def api_secret(self, name: str) -> VaultApiSecret | None:
        """The API secret called ``name``, if any."""
        return next((s for s in self.api_secrets if s.name == name), None)
