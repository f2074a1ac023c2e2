"""Reports connectors return: what the database user is allowed to do."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["PrivilegeReport"]


class PrivilegeReport(BaseModel):
    """Whether a credential can write, and the grants that show it.

    ``vsc-agent doctor`` warns when a profile meant to be read-only reports ``can_write``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    connection: str
    user: str
    can_write: bool
    reasons: tuple[str, ...] = ()
