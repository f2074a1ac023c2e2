"""The one place that formats and parses task-queue names.

Cloud work runs on ``vsc.<tenant>.cloud``; an agent's work on
``vsc.<tenant>.agent.<connector_id>``. Workflows derive their tenant from the queue they run
on, so a tenant id is never taken from a workflow input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PART = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
PREFIX = "vsc"


class QueueNameError(ValueError):
    """A tenant, agent or queue name does not follow the naming rules."""


def _check(kind: str, value: str) -> str:
    if not _PART.match(value):
        raise QueueNameError(
            f"{kind} {value!r} must be 1-63 chars of lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return value


def cloud_queue(tenant: str) -> str:
    """Task queue served by the cloud workers of ``tenant``."""
    return f"{PREFIX}.{_check('tenant', tenant)}.cloud"


def agent_queue(tenant: str, connector_id: str) -> str:
    """Task queue served by the on-premise agent (or agent group) ``connector_id``."""
    return f"{PREFIX}.{_check('tenant', tenant)}.agent.{_check('agent', connector_id)}"


@dataclass(frozen=True)
class QueueName:
    """A parsed task-queue name."""

    tenant: str
    agent: str | None

    @property
    def is_cloud(self) -> bool:
        """True for a cloud queue."""
        return self.agent is None


def parse_queue(name: str) -> QueueName:
    """Parse a queue name produced by this module.

    Raises:
        QueueNameError: The name was not made by :func:`cloud_queue` or :func:`agent_queue`.
    """
    parts = name.split(".")
    if len(parts) == 3 and parts[0] == PREFIX and parts[2] == "cloud":
        return QueueName(tenant=_check("tenant", parts[1]), agent=None)
    if len(parts) == 4 and parts[0] == PREFIX and parts[2] == "agent":
        return QueueName(tenant=_check("tenant", parts[1]), agent=_check("agent", parts[3]))
    raise QueueNameError(f"{name!r} is not a Van Sales Connector task queue")
