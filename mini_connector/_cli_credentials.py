"""``vsc-agent credentials``: named database credentials and user API secrets kept only in the local vault."""

from __future__ import annotations

from typing import Annotated

import typer

from activities.errors import InvalidInputError
from mini_connector._cli_common import cli_errors, open_vault, report, secret_from_env
from mini_connector.doctor import check_credential
from mini_connector.vault_models import CredentialKind, VaultApiSecret, VaultCredential

app = typer.Typer(
    help="Database credentials and API secrets in the local vault (secrets never leave this machine)."
)


def _read_url(*, url_env: str | None, stdin: bool) -> str:
    if url_env and stdin:
        raise InvalidInputError("give either --url-env or --stdin, not both")
    if url_env:
        return secret_from_env(url_env, what="database URL")
    if stdin:
        return typer.get_text_stream("stdin").readline().strip()
    return str(typer.prompt("Database URL with password (input hidden)", hide_input=True)).strip()


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Name the console and workflows use for this endpoint.")],
    kind: Annotated[CredentialKind, typer.Option("--kind", help="Database family.")],
    write: Annotated[bool, typer.Option("--write", help="Allow loads into this database.")] = False,
    url_env: Annotated[str | None, typer.Option("--url-env", help="Read the URL from this env var.")] = None,
    stdin: Annotated[bool, typer.Option("--stdin", help="Read the URL from stdin's first line.")] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite a credential of that name.")] = False,
) -> None:
    """Store a credential; by default the URL (with its password) is typed at a hidden prompt."""
    with cli_errors():
        vault = open_vault()
        vault.load()  # fail on a broken vault before asking for a secret
        url = _read_url(url_env=url_env, stdin=stdin)
        credential = VaultCredential.build(name=name, kind=kind, url=url, write=write)
        vault.add_credential(credential, replace=replace)
    access = "read-write" if write else "read-only"
    typer.echo(f"stored credential {name!r} ({kind}, {access}): {credential.masked_url()}")


@app.command("list")
def list_() -> None:
    """Names, kinds, masked URLs and write flags; never a secret."""
    with cli_errors():
        credentials = open_vault().credentials()
    if not credentials:
        typer.echo("no credentials; add one with `vsc-agent credentials add NAME --kind postgresql`")
        return
    width = max(len(c.name) for c in credentials)
    for c in credentials:
        access = "write" if c.write else "read-only"
        typer.echo(f"{c.name:<{width}}  {c.kind:<10}  {access:<9}  {c.masked_url()}")


@app.command("test")
def test(name: Annotated[str, typer.Argument(help="Credential to test.")]) -> None:
    """Connect, list tables and check privileges; warns when a read-only credential can write."""
    with cli_errors():
        credential = open_vault().credential(name)
    report(check_credential(credential))


@app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="Credential to delete.")]) -> None:
    """Delete a credential from the vault."""
    with cli_errors():
        open_vault().remove_credential(name)
    typer.echo(f"removed credential {name!r}")


def _read_api_secret(*, secret_env: str | None, stdin: bool) -> str:
    if secret_env and stdin:
        raise InvalidInputError("give either --secret-env or --stdin, not both")
    if secret_env:
        return secret_from_env(secret_env, what="API secret")
    if stdin:
        return typer.get_text_stream("stdin").readline().rstrip("\r\n")
    return str(
        typer.prompt("API secret (key, token, password or client secret; input hidden)", hide_input=True)
    )


@app.command("add-api")
def add_api(
    name: Annotated[
        str, typer.Argument(help="Credential reference the registered API names (`vsc api add`).")
    ],
    secret_env: Annotated[
        str | None, typer.Option("--secret-env", help="Read the secret from this env var.")
    ] = None,
    stdin: Annotated[bool, typer.Option("--stdin", help="Read the secret from stdin's first line.")] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite an API secret of that name.")] = False,
) -> None:
    """Store a local user API's secret, typed at a hidden prompt by default (never an argument)."""
    with cli_errors():
        vault = open_vault()
        vault.load()  # fail on a broken vault before asking for a secret
        secret = VaultApiSecret.build(name=name, secret=_read_api_secret(secret_env=secret_env, stdin=stdin))
        vault.add_api_secret(secret, replace=replace)
    typer.echo(f"stored API secret {name!r}")


@app.command("list-api")
def list_api() -> None:
    """Names of the stored API secrets; never a value."""
    with cli_errors():
        names = open_vault().api_secret_names()
    if not names:
        typer.echo("no API secrets; add one with `vsc-agent credentials add-api NAME`")
        return
    for name in names:
        typer.echo(f"{name}  ***")


@app.command("remove-api")
def remove_api(name: Annotated[str, typer.Argument(help="API secret to delete.")]) -> None:
    """Delete an API secret from the vault."""
    with cli_errors():
        open_vault().remove_api_secret(name)
    typer.echo(f"removed API secret {name!r}")
