"""Where cloud-side secrets live: connection credentials and webhook keys (console writes, workers read).

``SealedSecretStore`` (the default) seals them into the tenant's metadata tables;
``VaultSecretStore`` keeps them in HashiCorp Vault / OpenBao (KV v2). Both implement
:class:`SecretStore`; :func:`activities.wiring.build_secret_store` picks one from settings.
"""

from activities.secrets._outcome import on_commit, on_rollback
from activities.secrets._protocol import SecretStore
from activities.secrets._sealed import SealedSecretStore
from activities.secrets._vault import VAULT_EXC_MAP, VaultSecretStore, map_vault_errors

__all__ = [
    # The seam
    "SecretStore",
    # Implementations
    "SealedSecretStore",
    "VaultSecretStore",
    "VAULT_EXC_MAP",
    "map_vault_errors",
    # Following a metadata transaction
    "on_commit",
    "on_rollback",
]
