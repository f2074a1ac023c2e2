"""The platform's exception tree: one root, two retry mixins, structured fields.

Temporal decides retries from ``ApplicationError.non_retryable``; keeping the decision on
the exception class (``Terminal`` / ``Transient``) means every adapter classifies a failure
once, at the edge where it understands it, and the activity boundary only translates.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from temporalio.exceptions import ApplicationError


class VscError(Exception):
    """Root of every error the platform raises on purpose.

    Args:
        message: Human-readable text. Must never contain a secret.
        **fields: Structured context (connection, table, column, ...) kept for logs and the UI.
    """

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    @property
    def type_name(self) -> str:
        """Stable name used as ``ApplicationError.type``; tests and retry policies match on it."""
        return type(self).__name__


class Terminal:
    """Mixin: retrying cannot help (bad input, auth failure, integrity failure)."""


class Transient:
    """Mixin: the same call may succeed later (network blip, server restarting)."""


class InvalidInputError(VscError, Terminal):
    """A workflow or activity input failed validation."""


class ConnectionNotFoundError(VscError, Terminal):
    """A connection name is not known to the worker that was asked to use it."""


class TableNotFoundError(VscError, Terminal):
    """A table does not exist in the connection's database."""


class AuthenticationFailedError(VscError, Terminal):
    """The database or API refused the credential."""


class HostUnreachableError(VscError, Transient):
    """The endpoint could not be reached; it may come back."""


class TransientDatabaseError(VscError, Transient):
    """A database error that a retry can clear (serialization failure, deadlock, reset)."""


class DatabaseError(VscError, Terminal):
    """A database error that a retry will not clear."""


class ReadOnlyViolationError(VscError, Terminal):
    """A statement that could write was sent through a read-only path."""


class WriteNotGrantedError(VscError, Terminal):
    """A load was attempted with a credential that was not explicitly granted write."""


class SchemaMismatchError(VscError, Terminal):
    """Source and destination schemas are incompatible."""


class TransformError(VscError, Terminal):
    """A declarative transform is invalid for the data it was given."""


class BufferIntegrityError(VscError, Terminal):
    """A buffer chunk failed authentication: tampered, truncated, swapped or rolled back."""


class BufferExpiredError(VscError, Terminal):
    """A buffer chunk is past its authenticated expiry time."""


class BufferNotFoundError(VscError, Terminal):
    """A buffer chunk is missing from the object store."""


class ArtifactIntegrityError(VscError, Terminal):
    """An artifact's stored bytes no longer hash to its content address."""


class ArtifactNotFoundError(VscError, Terminal):
    """No artifact of that kind and digest is stored for the tenant."""


class QuotaExceededError(VscError, Terminal):
    """The tenant's tier does not allow this much (buffer bytes, ...); retrying cannot help until usage drops.

    Terminal on purpose: a retried write would either fail again or silently wait, and a run
    must never load the rows of an extract that was cut short.
    """


class ObjectStoreUnavailableError(VscError, Transient):
    """The object store (directory or S3) could not be reached or refused a request; it may recover."""


class TemporalUnavailableError(VscError, Transient):
    """The Temporal frontend could not be reached (down, restarting, wrong address)."""


class KeyUnavailableError(VscError, Terminal):
    """A data key could not be produced or unwrapped: wrong master key, tampered or missing key file.

    Raised instead of ever falling back to plaintext or to another tenant's key.
    """


class DecryptionFailedError(VscError, Terminal):
    """Authenticated decryption failed: wrong key, altered ciphertext, nonce or associated data."""


def to_application_error(exc: VscError) -> ApplicationError:
    """Translate one of our errors into the Temporal failure the workflow sees.

    Args:
        exc: The error raised inside an activity.

    Returns:
        An ``ApplicationError`` whose ``type`` is the error class name and whose
        ``non_retryable`` flag follows the ``Terminal`` mixin.
    """
    return ApplicationError(
        exc.message,
        {k: str(v) for k, v in exc.fields.items()},
        type=exc.type_name,
        non_retryable=isinstance(exc, Terminal),
    )


@contextmanager
def activity_errors() -> Iterator[None]:
    """Re-raise our errors as Temporal ``ApplicationError`` at the activity boundary."""
    try:
        yield
    except VscError as exc:
        raise to_application_error(exc) from None


class TenantNotFoundError(VscError, Terminal):
    """A tenant id is not provisioned in the metadata store."""


class VaultError(VscError, Terminal):
    """The agent's local vault is missing, from another machine, opened with the wrong secret or altered."""


class GatewayUnreachableError(VscError, Transient):
    """The agent could not reach its gateway (DNS failure, connection refused, timeout)."""


class GatewayCertificateError(VscError, Terminal):
    """The gateway's TLS certificate did not verify; the agent refuses to talk to it."""


class GatewayProtocolError(VscError, Terminal):
    """The peer at the gateway URL did not speak the agent protocol (wrong path, wrong service)."""


class GatewayRefusedError(VscError, Terminal):
    """The gateway refused an enrollment or a session; ``code`` says why (see docs/agent-protocol.md)."""


class TunnelProtocolError(VscError, Terminal):
    """A peer sent a frame or message that the agent protocol does not allow."""


class SecretStoreUnavailableError(VscError, Transient):
    """The secret store (Vault) is sealed, unreachable or refused the process's token.

    Nothing falls back to another store or a cached copy: the operation fails, and a retry after
    the operator unseals Vault or renews the token succeeds.
    """


class PayloadRefusedError(VscError, Terminal):
    """An encrypted Temporal payload was refused: another tenant's, altered, or malformed; never decrypted."""


# --- Mode 2: user APIs through generated, sandboxed SDKs -------------------------------------


class SpecInvalidError(InvalidInputError):
    """An OpenAPI document was refused; ``pointer`` is the JSON pointer of the offending part.

    Covers malformed, hostile (external references, recursion, alias bombs, over-size or
    over-deep documents) and unsupported (Swagger 2.0) input alike: the message says which.
    """


class SpecUnreachableError(VscError, Transient):
    """A spec URL could not be fetched (refused, timed out, not HTTP 200, not a document)."""


class SdkBuildError(VscError, Terminal):
    """Rendering or compiling a generated SDK failed; nothing was published."""


class EgressDeniedError(VscError, Terminal):
    """The host refused a guest's request: the URL is outside the API's allow-list or method not granted."""


class SandboxLimitError(VscError, Terminal):
    """Guest code hit its time, memory or response-size limit and was stopped."""


class ApiCallError(VscError, Terminal):
    """A user API answered with a client error, a non-JSON body where JSON was promised, or garbage."""


class ApiUnavailableError(VscError, Transient):
    """A user API answered 5xx or 429, or could not be reached; the call may succeed later."""


class ApiNotFoundError(VscError, Terminal):
    """No such registered API (or SDK version) for this tenant."""
