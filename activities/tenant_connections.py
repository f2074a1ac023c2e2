"""A tenant's cloud connections as the cloud worker sees them: saved through the API, then the worker's file.

The console stores a connection's kind and config in the tenant's metadata schema and its
password in the secret store; this module joins the two into a :class:`ConnectionProfile`
when an activity asks for the connection, so a definition saved and run through the API
reaches a cloud database whose secret was installed through the API. Nothing is cached: a
rotated secret is used by the next activity, and a sealed Vault fails the lookup (retryably)
instead of serving a stale copy.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, select

from activities.catalog import profile_url
from activities.connections import ConnectionProfile, ConnectionRegistry, ProfileSource
from activities.errors import ConnectionNotFoundError
from activities.metadata import Connection, tenant_session
from activities.secrets import SecretStore


class TenantConnections:
    """Resolves names for one tenant: its cloud connections in the metadata store first, then ``fallback``.

    A tenant's own saved connection wins over a worker-file profile of the same name (the file
    is shared by every tenant the worker serves, the saved connection is the tenant's own), and
    the file keeps working for every name the tenant has not saved.

    Args:
        engine: The metadata store.
        tenant: The tenant whose connections are resolved.
        secrets: Where the connections' secrets are.
        fallback: The worker's file registry (``registry_loader``).
    """

    def __init__(
        self, *, engine: Engine, tenant: str, secrets: SecretStore, fallback: Callable[[], ConnectionRegistry]
    ) -> None:
        self._engine = engine
        self._tenant = tenant
        self._secrets = secrets
        self._fallback = fallback

    def get(self, name: str) -> ConnectionProfile:
        """The profile called ``name``.

        Raises:
            ConnectionNotFoundError: Neither the tenant nor the worker file has it.
            InvalidInputError: The saved connection's config does not fit its kind.
            SecretStoreUnavailableError: Its secret cannot be read now (retryable).
        """
        saved = self._saved(name)
        if saved is not None:
            return saved
        try:
            return self._fallback().get(name)
        except ConnectionNotFoundError:
            raise ConnectionNotFoundError(
                f"connection {name!r} is neither a cloud connection of tenant {self._tenant!r} "
                "nor configured on this worker",
                connection=name,
                tenant=self._tenant,
            ) from None

    def _saved(self, name: str) -> ConnectionProfile | None:
        with tenant_session(self._engine, self._tenant) as session:
            row = session.scalars(
                select(Connection).where(Connection.name == name, Connection.location == "cloud")
            ).one_or_none()
            if row is None:
                return None
            values = self._secrets.get(session, row.secret_ref) if row.secret_ref else {}
            url = profile_url(kind=row.kind, config=row.config, secrets=values, connection=name)
            return ConnectionProfile.model_validate(
                {"name": name, "kind": row.kind, "url": url, "location": "cloud", "write": row.write_granted}
            )


def tenant_registry_loader(
    *, engine: Engine, tenant: str, secrets: SecretStore, fallback: Callable[[], ConnectionRegistry]
) -> Callable[[], ProfileSource]:
    """The ``connections`` loader of a cloud worker's :class:`SyncSteps` for one tenant's queue."""
    source = TenantConnections(engine=engine, tenant=tenant, secrets=secrets, fallback=fallback)
    return lambda: source
