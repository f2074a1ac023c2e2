"""Connection profiles: which database a connector may reach, and whether it may write there.

Profiles live on the worker that uses them (the agent never ships them to the cloud), so the
registry is loaded from a local JSON file. Write access is off unless a profile grants it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, field_validator
from sqlalchemy.engine import make_url

from activities.errors import ConnectionNotFoundError, InvalidInputError

__all__ = ["ConnectionProfile", "ConnectionRegistry", "ProfileSource", "masked_url", "registry_loader"]


def masked_url(url: str | SecretStr) -> str:
    """Return ``url`` with any password replaced by ``***`` so it can go into messages and logs."""
    raw = url.get_secret_value() if isinstance(url, SecretStr) else url
    try:
        return make_url(raw).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL may still hold a secret: show nothing of it
        return "<unparsable url>"


class ConnectionProfile(BaseModel):
    """One named database endpoint with its credential and its write grant."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: Literal["postgresql", "mysql", "sqlite"]
    """Database family; ``mariadb`` is accepted as a spelling of ``mysql``."""
    url: SecretStr
    location: Literal["local", "cloud"] = "local"
    write: bool = False

    @field_validator("kind", mode="before")
    @classmethod
    def _mariadb_is_mysql(cls, value: Any) -> Any:
        return "mysql" if value == "mariadb" else value

    def masked_url(self) -> str:
        """The profile URL without its password."""
        return masked_url(self.url)

    def password(self) -> str | None:
        """The password in the URL, used only to scrub it out of driver messages."""
        return make_url(self.url.get_secret_value()).password


class ProfileSource(Protocol):
    """Resolves a connection name to its profile: a registry, or a tenant's saved connections."""

    def get(self, name: str) -> ConnectionProfile:
        """Return the profile called ``name``; raise ConnectionNotFoundError when there is none."""
        ...


class ConnectionRegistry:
    """The connection profiles one worker knows, looked up by name.

    Args:
        profiles: Profiles with unique names.
    """

    def __init__(self, profiles: Iterable[ConnectionProfile]) -> None:
        self._profiles: dict[str, ConnectionProfile] = {}
        for profile in profiles:
            if profile.name in self._profiles:
                raise InvalidInputError(
                    f"connection {profile.name!r} is defined twice", connection=profile.name
                )
            self._profiles[profile.name] = profile

    @classmethod
    def from_list(
        cls, items: Iterable[ConnectionProfile | Mapping[str, Any]], *, source: str = "connection list"
    ) -> ConnectionRegistry:
        """Build a registry from profiles or plain dicts (as found in a JSON file).

        Raises:
            InvalidInputError: An entry is malformed; the message names the entry and field but
                never echoes values, which may hold credentials.
        """
        profiles = []
        for index, item in enumerate(items):
            if isinstance(item, ConnectionProfile):
                profiles.append(item)
                continue
            try:
                profiles.append(ConnectionProfile.model_validate(item))
            except ValidationError as exc:
                name = item.get("name", f"#{index}") if isinstance(item, Mapping) else f"#{index}"
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or 'entry'}: {e['msg']}"
                    for e in exc.errors(include_input=False, include_url=False)
                )
                raise InvalidInputError(
                    f"{source}: connection {name!r} is invalid: {problems}", connection=str(name)
                ) from None
        return cls(profiles)

    @classmethod
    def from_file(cls, path: str | Path) -> ConnectionRegistry:
        """Load ``{"connections": [...]}`` from a JSON file.

        Raises:
            InvalidInputError: The file is not valid JSON of that shape.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InvalidInputError(
                f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno})"
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("connections", []), list):
            raise InvalidInputError(f'{path}: expected {{"connections": [...]}}')
        return cls.from_list(data.get("connections", []), source=str(path))

    def get(self, name: str) -> ConnectionProfile:
        """Return the profile called ``name``.

        Raises:
            ConnectionNotFoundError: No profile has that name on this worker.
        """
        try:
            return self._profiles[name]
        except KeyError:
            raise ConnectionNotFoundError(
                f"connection {name!r} is not configured on this worker", connection=name
            ) from None

    def names(self) -> list[str]:
        """Names of all profiles, sorted."""
        return sorted(self._profiles)


def registry_loader(path: Path) -> Callable[[], ConnectionRegistry]:
    """A loader that re-reads ``path`` only when it changed, so a running worker sees new profiles.

    A missing file is an empty registry: every lookup then fails with ConnectionNotFoundError.
    """
    cache: dict[str, Any] = {"stamp": None, "registry": ConnectionRegistry([])}

    def load() -> ConnectionRegistry:
        try:
            st = path.stat()
        except FileNotFoundError:
            return ConnectionRegistry([])
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != cache["stamp"]:
            cache["registry"] = ConnectionRegistry.from_file(path)
            cache["stamp"] = stamp
        registry: ConnectionRegistry = cache["registry"]
        return registry

    return load
