"""The agent's :class:`~activities.api_sources.SecretSource`: user API secrets from its local vault.

``call_api`` on the agent resolves an API's credential reference here; the secret goes to the
SDK host on this machine and nowhere else (no log, no message, no activity result). The vault is
decrypted again only when its file changed, so a secret added with ``vsc-agent credentials
add-api`` reaches a running agent without a restart.
"""

from __future__ import annotations

import threading

from pydantic import SecretStr

from activities.errors import ConnectionNotFoundError
from mini_connector.vault import Vault

__all__ = ["VaultSecrets"]


class VaultSecrets:
    """API secrets by name from the vault.

    Args:
        vault: The agent's vault.
        tenant: The enrolled tenant; a request for any other is answered "no such secret"
            (``None``: not checked, for a vault without an identity in development).
    """

    def __init__(self, vault: Vault, *, tenant: str | None = None) -> None:
        self._vault = vault
        self._tenant = tenant
        self._mutex = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._values: dict[str, SecretStr] = {}

    def secret(self, *, tenant: str, credential: str) -> SecretStr:
        """The secret called ``credential``.

        Raises:
            ConnectionNotFoundError: No such secret (or another tenant's request).
            VaultError: The vault does not open.
        """
        found = self._current().get(credential) if self._tenant in (None, tenant) else None
        if found is None:
            raise ConnectionNotFoundError(
                f"no API secret named {credential!r} in the agent's vault "
                f"(add it with `vsc-agent credentials add-api {credential}`)",
                connection=credential,
            )
        return found

    def _current(self) -> dict[str, SecretStr]:
        try:
            st = self._vault.path.stat()
        except FileNotFoundError:
            self._vault.load()  # raises the VaultError that says how to create one
            raise
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        with self._mutex:
            if stamp != self._stamp:
                self._values = {s.name: s.secret for s in self._vault.load().api_secrets}
                self._stamp = stamp
            return self._values
