"""The production secret store: HashiCorp Vault (or OpenBao) KV version 2, through hvac.

Each secret is one KV entry at ``<prefix>/<tenant>/secrets/<ref>``, so a Vault policy can
confine a process to one tenant's subtree and a reference copied to another tenant resolves
to nothing. Vault cannot join the metadata transaction, so writes follow its outcome (see
:mod:`activities.secrets._outcome`): a secret written for a row that rolls back is removed,
and a delete happens only after the row is committed gone.

Fail closed: a sealed Vault, a refused or expired token, or an unreachable server raises
:class:`SecretStoreUnavailableError`; nothing falls back to another store or a cached value.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import hvac
import requests
from hvac import exceptions as vault_exc

from activities.errors import KeyUnavailableError, SecretStoreUnavailableError, VscError
from activities.metadata import TenantSession
from activities.metadata._models import new_id
from activities.secrets._outcome import on_commit, on_rollback
from activities.settings import VaultConfig

log = logging.getLogger(__name__)

# First match wins. Every failure to talk to Vault is "unavailable": the operator fixes Vault
# (unseal, renew the token, widen the policy) and a retry succeeds.
VAULT_EXC_MAP: tuple[tuple[type[Exception], str], ...] = (
    (vault_exc.VaultDown, "Vault is sealed or down"),
    (
        vault_exc.Forbidden,
        "Vault refused the token (permission denied: expired, revoked or outside its policy)",
    ),
    (vault_exc.Unauthorized, "Vault refused the request as unauthenticated"),
    (vault_exc.VaultNotInitialized, "Vault is not initialized"),
    (vault_exc.RateLimitExceeded, "Vault is rate limiting this client"),
    (vault_exc.VaultError, "Vault refused the request"),
    (requests.exceptions.SSLError, "Vault's TLS certificate did not verify"),
    (requests.exceptions.RequestException, "Vault could not be reached"),
)


@contextmanager
def map_vault_errors(operation: str, *, tenant: str) -> Iterator[None]:
    """Re-raise hvac and transport failures as :class:`SecretStoreUnavailableError`.

    The message names the operation and the class of failure, never the token or a value.
    """
    try:
        yield
    except VscError:
        raise
    except Exception as exc:
        for source, reason in VAULT_EXC_MAP:
            if isinstance(exc, source):
                raise SecretStoreUnavailableError(
                    f"secret store could not {operation} for tenant {tenant!r}: {reason}", tenant=tenant
                ) from None
        raise


class VaultSecretStore:
    """Secrets in a Vault KV v2 mount, one entry per reference under the tenant's path.

    Args:
        config: Vault address, token source, mount and path prefix.
    """

    def __init__(self, *, config: VaultConfig) -> None:
        if config.url is None:
            raise ValueError("VaultSecretStore needs config.url")
        self._config = config
        self._client = hvac.Client(
            url=config.url,
            namespace=config.namespace,
            timeout=int(max(1, config.timeout_seconds)),
            verify=str(config.ca_file) if config.ca_file else True,
        )

    def _path(self, tenant_id: str, ref: str) -> str:
        return f"{self._config.path_prefix}/{tenant_id}/secrets/{ref}"

    def _authenticated(self) -> hvac.Client:
        """The client with the current token (a token file is re-read, so renewals are picked up)."""
        if self._config.token_file is not None:
            try:
                token = Path(self._config.token_file).read_text(encoding="utf-8").strip()
            except OSError:
                raise SecretStoreUnavailableError(
                    f"Vault token file {self._config.token_file} cannot be read"
                ) from None
        else:
            assert self._config.token is not None
            token = self._config.token.get_secret_value()
        self._client.token = token
        return self._client

    def put(self, session: TenantSession, values: dict[str, str]) -> str:
        """Write ``values`` now; they are removed again if the session's transaction rolls back.

        Raises:
            SecretStoreUnavailableError: Vault is sealed, unreachable or refused the token.
        """
        tenant_id, ref = session.tenant_id, new_id()
        path = self._path(tenant_id, ref)
        with map_vault_errors("store a secret", tenant=tenant_id):
            self._authenticated().secrets.kv.v2.create_or_update_secret(
                path=path, secret=dict(values), mount_point=self._config.mount
            )
        on_rollback(session, lambda: self._remove(tenant_id, ref))
        return ref

    def get(self, session: TenantSession, ref: str) -> dict[str, str]:
        """Read the values under ``ref`` for the session's tenant.

        Raises:
            KeyUnavailableError: The tenant has no such secret.
            SecretStoreUnavailableError: Vault is sealed, unreachable or refused the token.
        """
        tenant_id = session.tenant_id
        with map_vault_errors("read a secret", tenant=tenant_id):
            try:
                response = self._authenticated().secrets.kv.v2.read_secret_version(
                    path=self._path(tenant_id, ref),
                    mount_point=self._config.mount,
                    raise_on_deleted_version=True,
                )
            except vault_exc.InvalidPath:
                raise KeyUnavailableError(
                    f"tenant {tenant_id!r} has no secret {ref!r}", tenant=tenant_id
                ) from None
        data = response["data"]["data"]
        return {str(k): str(v) for k, v in data.items()}

    def delete(self, session: TenantSession, ref: str) -> None:
        """Destroy every version of ``ref`` once the session commits."""
        tenant_id = session.tenant_id
        on_commit(session, lambda: self._remove(tenant_id, ref))

    def _remove(self, tenant_id: str, ref: str) -> None:
        with map_vault_errors("remove a secret", tenant=tenant_id):
            try:
                self._authenticated().secrets.kv.v2.delete_metadata_and_all_versions(
                    path=self._path(tenant_id, ref), mount_point=self._config.mount
                )
            except vault_exc.InvalidPath:
                return
