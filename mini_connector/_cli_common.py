"""What every ``vsc-agent`` command shares: the vault from settings, and errors as one clear line."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from activities.errors import VscError
from mini_connector.doctor import Check, Status
from mini_connector.settings import AgentSettings
from mini_connector.vault import Vault


def open_vault() -> Vault:
    """The vault named by ``VSC_AGENT_*`` settings (not yet decrypted)."""
    return Vault.from_settings(AgentSettings())


@contextmanager
def cli_errors() -> Iterator[None]:
    """Print our errors as ``error: <message>`` on stderr and exit 1; the message holds no secret."""
    try:
        yield
    except VscError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None


def secret_from_env(variable: str, *, what: str) -> str:
    """A secret from the environment variable the operator named.

    Raises:
        typer.Exit: The variable is unset or empty (the message names the variable, not a value).
    """
    value = os.environ.get(variable, "")
    if not value:
        typer.echo(f"error: environment variable {variable} with the {what} is not set", err=True)
        raise typer.Exit(1)
    return value


def report(checks: list[Check]) -> None:
    """Print checks one per line and exit 1 if any failed."""
    for check in checks:
        typer.echo(check.line())
    if any(c.status is Status.FAIL for c in checks):
        raise typer.Exit(1)
