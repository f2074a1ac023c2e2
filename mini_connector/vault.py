"""The agent's local vault: one encrypted file holding its identity and its database credentials.

The key is derived from the machine identity plus a random agent secret kept in a separate 0600
file, so a vault file copied elsewhere does not open; ``export`` / ``import_`` move it on purpose
under a passphrase. Writes replace the file atomically, so a crash leaves the previous vault.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import stat
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from activities.atomic_file import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, write_private_file
from activities.connections import ConnectionRegistry
from activities.errors import ConnectionNotFoundError, InvalidInputError, VaultError
from mini_connector._vault_format import open_backup, open_vault, seal_backup, seal_vault
from mini_connector.identity import AgentIdentity
from mini_connector.settings import AgentSettings
from mini_connector.vault_models import VaultApiSecret, VaultContents, VaultCredential

__all__ = ["MACHINE_ID_PATHS", "SECRET_BYTES", "Vault", "machine_identity"]

MACHINE_ID_PATHS = (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id"))
SECRET_BYTES = 32
_NamedField = Literal["credentials", "api_secrets"]
_NOUNS: dict[_NamedField, tuple[str, str]] = {
    "credentials": ("a", "credential"),
    "api_secrets": ("an", "API secret"),
}
"""How errors name an entry of each field of :class:`VaultContents` whose entries are keyed by name."""


def machine_identity(*, override: str | None = None, paths: Sequence[Path] = MACHINE_ID_PATHS) -> bytes:
    """This machine's stable identity, one of the two inputs of the vault key.

    Args:
        override: A value to use instead (``VSC_AGENT_MACHINE_ID``; tests, containers without one).
        paths: Files to try in order; the first non-empty one wins.

    Raises:
        VaultError: No machine identity is available.
    """
    if override:
        return override.encode("utf-8")
    for path in paths:
        try:
            value = path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if value:
            return value.encode("ascii")
    tried = ", ".join(str(p) for p in paths)
    raise VaultError(f"no machine identity found (tried {tried}); set VSC_AGENT_MACHINE_ID")


class Vault:
    """The vault file plus its agent-secret file.

    Args:
        path: The encrypted vault file.
        secret_path: The file holding the 32-byte agent secret.
        machine_id: This machine's identity, from :func:`machine_identity`.
    """

    def __init__(self, path: Path, *, secret_path: Path, machine_id: bytes) -> None:
        self.path = path
        self.secret_path = secret_path
        self._machine_id = machine_id

    @classmethod
    def from_settings(cls, settings: AgentSettings) -> Vault:
        """The vault the agent's settings point at, keyed to this machine."""
        override = settings.machine_id.get_secret_value() if settings.machine_id else None
        return cls(
            settings.vault_file,
            secret_path=settings.vault_secret_file,
            machine_id=machine_identity(override=override),
        )

    # ----- files -----

    def exists(self) -> bool:
        """Whether a vault file is present (it may still fail to open)."""
        return self.path.exists()

    def init(self) -> None:
        """Create the agent secret and an empty vault.

        Raises:
            VaultError: A vault already exists, or only the secret is missing (which would
                orphan the existing vault).
        """
        if self.path.exists():
            raise VaultError(f"a vault already exists at {self.path}", file=str(self.path))
        with self._locked():
            self._create_secret()
            self._write(VaultContents())

    def _create_secret(self) -> None:
        self.secret_path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
        try:
            fd = os.open(self.secret_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        except FileExistsError:
            self._secret()  # keep an existing secret, but only if it is well-formed
            return
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(SECRET_BYTES))
            handle.flush()
            os.fsync(handle.fileno())

    def _secret(self) -> bytes:
        try:
            raw = self.secret_path.read_bytes()
        except FileNotFoundError:
            raise VaultError(
                f"the agent secret {self.secret_path} is missing, so the vault cannot be opened; "
                "restore it from backup or run `vsc-agent vault import`",
                file=str(self.secret_path),
            ) from None
        if len(raw) != SECRET_BYTES:
            raise VaultError(f"the agent secret {self.secret_path} is malformed", file=str(self.secret_path))
        return raw

    @contextmanager
    def _locked(self) -> Iterator[None]:
        # serialises read-modify-write between concurrent CLI commands; readers need no lock
        # because the file is only ever replaced whole
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _write(self, contents: VaultContents) -> None:
        blob = seal_vault(contents.to_bytes(), secret=self._secret(), machine_id=self._machine_id)
        write_private_file(self.path, blob)

    def permission_problems(self) -> list[str]:
        """Vault files readable or writable by anyone but their owner."""
        problems = []
        for path in (self.path, self.secret_path):
            try:
                mode = stat.S_IMODE(path.stat().st_mode)
            except FileNotFoundError:
                continue
            if mode & 0o077:
                problems.append(f"{path} has mode {mode:04o}, expected 0600")
        return problems

    # ----- contents -----

    def load(self) -> VaultContents:
        """Open and decrypt the vault.

        Raises:
            VaultError: Missing, truncated, another machine's, wrong secret or altered.
        """
        try:
            blob = self.path.read_bytes()
        except FileNotFoundError:
            raise VaultError(
                f"no vault at {self.path}; run `vsc-agent init` first", file=str(self.path)
            ) from None
        plaintext = open_vault(blob, secret=self._secret(), machine_id=self._machine_id, what=self.path.name)
        try:
            return VaultContents.from_bytes(plaintext)
        except InvalidInputError as exc:
            raise VaultError(f"{self.path.name}: {exc.message}", file=str(self.path)) from None

    def update(self, change: Callable[[VaultContents], VaultContents]) -> VaultContents:
        """Apply ``change`` to the current contents and write the result, under the vault lock."""
        with self._locked():
            contents = change(self.load())
            self._write(contents)
            return contents

    def identity(self) -> AgentIdentity | None:
        """The enrolled identity, or None before ``vsc-agent enroll``."""
        return self.load().identity

    def set_identity(self, identity: AgentIdentity) -> None:
        """Store (or replace) the agent's identity."""
        self.update(lambda c: c.model_copy(update={"identity": identity}))

    def credentials(self) -> tuple[VaultCredential, ...]:
        """All stored credentials, sorted by name."""
        return tuple(sorted(self.load().credentials, key=lambda c: c.name))

    def credential(self, name: str) -> VaultCredential:
        """The credential called ``name``.

        Raises:
            ConnectionNotFoundError: No credential has that name.
        """
        found = self.load().credential(name)
        if found is None:
            raise ConnectionNotFoundError(f"no credential named {name!r} in the vault", connection=name)
        return found

    def add_credential(self, credential: VaultCredential, *, replace: bool = False) -> None:
        """Store a credential.

        Raises:
            InvalidInputError: The name is taken and ``replace`` is false.
        """
        self._put("credentials", credential, replace=replace)

    def remove_credential(self, name: str) -> None:
        """Delete a credential.

        Raises:
            ConnectionNotFoundError: No credential has that name.
        """
        self._remove("credentials", name)

    def api_secret_names(self) -> tuple[str, ...]:
        """Names of the stored API secrets, sorted; never a value."""
        return tuple(sorted(s.name for s in self.load().api_secrets))

    def add_api_secret(self, secret: VaultApiSecret, *, replace: bool = False) -> None:
        """Store a user API's secret.

        Raises:
            InvalidInputError: The name is taken and ``replace`` is false.
        """
        self._put("api_secrets", secret, replace=replace)

    def remove_api_secret(self, name: str) -> None:
        """Delete a user API's secret.

        Raises:
            ConnectionNotFoundError: No API secret has that name.
        """
        self._remove("api_secrets", name)

    def _put(self, field: _NamedField, item: VaultCredential | VaultApiSecret, *, replace: bool) -> None:
        """Add ``item`` to the named entries of ``field``, replacing one of its name only if told to."""
        article, noun = _NOUNS[field]

        def change(contents: VaultContents) -> VaultContents:
            entries: tuple[VaultCredential | VaultApiSecret, ...] = getattr(contents, field)
            if any(e.name == item.name for e in entries) and not replace:
                raise InvalidInputError(
                    f"{article} {noun} named {item.name!r} already exists (use --replace)",
                    connection=item.name,
                )
            others = tuple(e for e in entries if e.name != item.name)
            return contents.model_copy(update={field: (*others, item)})

        self.update(change)

    def _remove(self, field: _NamedField, name: str) -> None:
        """Drop the entry of ``field`` called ``name``; it must exist."""
        _, noun = _NOUNS[field]

        def change(contents: VaultContents) -> VaultContents:
            entries: tuple[VaultCredential | VaultApiSecret, ...] = getattr(contents, field)
            if not any(e.name == name for e in entries):
                raise ConnectionNotFoundError(f"no {noun} named {name!r} in the vault", connection=name)
            return contents.model_copy(update={field: tuple(e for e in entries if e.name != name)})

        self.update(change)

    def registry(self) -> ConnectionRegistry:
        """The credentials as the connection registry the agent worker serves activities from."""
        return ConnectionRegistry(c.profile() for c in self.load().credentials)

    def registry_loader(self) -> Callable[[], ConnectionRegistry]:
        """A registry source for the worker that decrypts the vault again only when the file changed.

        So credentials added with ``vsc-agent credentials add`` reach a running agent.
        """
        cache: dict[str, Any] = {"stamp": None, "registry": ConnectionRegistry([])}

        def load() -> ConnectionRegistry:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            if stamp != cache["stamp"]:
                cache["registry"] = self.registry()
                cache["stamp"] = stamp
            registry: ConnectionRegistry = cache["registry"]
            return registry

        return load

    # ----- backup -----

    def export(self, passphrase: str) -> bytes:
        """The vault's contents encrypted under ``passphrase`` only, restorable on another machine."""
        return seal_backup(self.load().to_bytes(), passphrase=passphrase)

    def import_(self, data: bytes, passphrase: str) -> VaultContents:
        """Replace this machine's vault with a backup's contents, re-keyed to this machine.

        Creates the agent secret if there is none yet.

        Raises:
            VaultError: Wrong passphrase, altered or foreign file.
        """
        try:
            contents = VaultContents.from_bytes(open_backup(data, passphrase=passphrase))
        except InvalidInputError as exc:
            raise VaultError(f"vault backup: {exc.message}") from None
        with self._locked():
            self._create_secret()
            self._write(contents)
        return contents
