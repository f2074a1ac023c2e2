"""The local secret store: secrets sealed into the tenant's own metadata tables.

``SealedSecretStore`` seals with AES-256-GCM under the tenant's data key from a
:class:`LocalKeyring`, the ciphertext in the tenant's ``sealed_secrets`` table, bound to tenant
and secret id so a row copied to another tenant or another secret does not open. Writes go
into the caller's tenant session, so a secret and its connection commit or roll back together.
"""

from __future__ import annotations

import base64
import json

from sqlalchemy import delete

from activities.crypto import Keyring, encode_aad, open_sealed, seal
from activities.errors import KeyUnavailableError
from activities.metadata import SealedSecret, TenantSession
from activities.metadata._models import new_id

_LABEL = "vsc-connection-secret-v1"


class SealedSecretStore:
    """Secrets sealed with per-tenant data keys in the metadata store.

    Args:
        keyring: Source of the tenant data keys (keep it apart from the buffer's keyring).
    """

    def __init__(self, *, keyring: Keyring) -> None:
        self._keyring = keyring

    def put(self, session: TenantSession, values: dict[str, str]) -> str:
        """Seal ``values`` into the session's transaction; returns the new reference."""
        tenant_id, ref = session.tenant_id, new_id()
        data_key = self._keyring.current(tenant_id)
        plaintext = json.dumps(values, sort_keys=True).encode()
        nonce, ciphertext = seal(data_key.key, plaintext, encode_aad(_LABEL, tenant_id, ref))
        session.add(
            SealedSecret(
                id=ref,
                key_id=data_key.key_id,
                nonce=base64.b64encode(nonce).decode(),
                ciphertext=base64.b64encode(ciphertext).decode(),
            )
        )
        return ref

    def get(self, session: TenantSession, ref: str) -> dict[str, str]:
        """Open the secret stored under ``ref``.

        Raises:
            KeyUnavailableError: No such secret for this tenant, or its key cannot be unwrapped.
            DecryptionFailedError: The stored ciphertext was altered or moved.
        """
        tenant_id = session.tenant_id
        row = session.get(SealedSecret, ref)
        if row is None or row.tenant_id != tenant_id:
            raise KeyUnavailableError(f"tenant {tenant_id!r} has no secret {ref!r}", tenant=tenant_id)
        data_key = self._keyring.get(tenant_id, row.key_id)
        plaintext = open_sealed(
            data_key.key,
            base64.b64decode(row.nonce),
            base64.b64decode(row.ciphertext),
            encode_aad(_LABEL, tenant_id, ref),
            context=f"secret {ref}",
        )
        values: dict[str, str] = json.loads(plaintext)
        return values

    def delete(self, session: TenantSession, ref: str) -> None:
        """Remove the sealed secret ``ref`` of the session's tenant."""
        session.execute(delete(SealedSecret).where(SealedSecret.id == ref))
