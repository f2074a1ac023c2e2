"""``vsc-agent``: set up, run and inspect the on-premise agent (vault, enrollment, credentials, doctor).

Secrets (database passwords, the private key, the enrollment token) are never printed or logged;
only names, kinds, masked URLs and the public key are shown.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer

from activities.atomic_file import write_private_file
from activities.errors import VaultError
from mini_connector import _cli_credentials
from mini_connector._cli_common import cli_errors, open_vault, report, secret_from_env
from mini_connector._dial import endpoint
from mini_connector.doctor import check_credential, check_gateway, check_vault
from mini_connector.enroll import enroll as enroll_with_gateway
from mini_connector.identity import AgentIdentity, AgentKey
from mini_connector.run import run_agent

app = typer.Typer(help="The Van Sales Connector on-premise agent.", no_args_is_help=True)
vault_app = typer.Typer(help="Encrypted backup and restore of the local vault.")
app.add_typer(_cli_credentials.app, name="credentials")
app.add_typer(vault_app, name="vault")


@app.command()
def init() -> None:
    """Create the local vault and the agent secret that, with this machine's identity, keys it."""
    with cli_errors():
        vault = open_vault()
        vault.init()
    typer.echo(f"created vault {vault.path} and agent secret {vault.secret_path} (both 0600)")
    typer.echo("next: vsc-agent enroll --gateway wss://... --token ... --agent-id ...")


@app.command()
def enroll(
    gateway: Annotated[str, typer.Option("--gateway", help="Gateway URL, e.g. wss://gw.example.com")],
    token: Annotated[
        str, typer.Option("--token", envvar="VSC_AGENT_ENROLL_TOKEN", help="One-time token from the console.")
    ],
    agent_id: Annotated[str, typer.Option("--agent-id", help="Agent (connector) id the token was made for.")],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing identity.")] = False,
    wait_s: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the gateway.")] = 10.0,
) -> None:
    """Generate this agent's key pair and register its public key with a one-time token."""
    with cli_errors():
        endpoint(gateway, "")  # refuse a malformed or plain-ws URL before touching the vault
        vault = open_vault()
        if not vault.exists():
            vault.init()
            typer.echo(f"created vault {vault.path}")
        current = vault.identity()
        if current is not None and not force:
            typer.echo(
                f"error: already enrolled as {current.agent_id!r} of tenant {current.tenant!r}; "
                "pass --force to replace that identity",
                err=True,
            )
            raise typer.Exit(1)
        key = AgentKey.generate()
        result = asyncio.run(
            enroll_with_gateway(gateway_url=gateway, token=token, agent_id=agent_id, key=key, wait_s=wait_s)
        )
        vault.set_identity(
            AgentIdentity.create(key=key, tenant=result.tenant, agent_id=result.agent_id, gateway_url=gateway)
        )
    typer.echo(f"enrolled agent {result.agent_id!r} of tenant {result.tenant!r} with gateway {gateway}")
    typer.echo(f"public key: {key.public_key_b64()}")


@app.command()
def run(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every reconnect and task.")] = False,
) -> None:
    """Serve this agent's task queues through the gateway, reconnecting until stopped.

    Identity, gateway URL and credentials come from the vault; the agent needs no Temporal
    address. Exits 1 when the vault is missing, the agent is not enrolled, or the gateway
    refuses it for good (revoked, unknown, another key).
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    logging.getLogger("vsc.agent").setLevel(logging.INFO)
    with cli_errors():
        asyncio.run(run_agent())


@app.command()
def status() -> None:
    """Identity, gateway and credential count; exits 1 if the vault does not open."""
    vault = open_vault()
    try:
        contents = vault.load()
    except VaultError as exc:
        typer.echo(f"vault:       FAIL {exc.message}")
        raise typer.Exit(1) from None
    typer.echo(f"vault:       {vault.path} (opens)")
    who = contents.identity
    if who is None:
        typer.echo("identity:    not enrolled (run `vsc-agent enroll`)")
    else:
        typer.echo(f"identity:    agent {who.agent_id!r} of tenant {who.tenant!r}")
        typer.echo(f"public key:  {who.key().public_key_b64()}")
        typer.echo(f"gateway:     {who.gateway_url}")
    typer.echo(f"credentials: {len(contents.credentials)}")


@app.command()
def doctor(
    gateway: Annotated[
        str | None, typer.Option("--gateway", help="Gateway URL to probe (default: the enrolled one).")
    ] = None,
    wait_s: Annotated[float, typer.Option("--timeout", help="Seconds per network check.")] = 5.0,
) -> None:
    """Check vault integrity, gateway reachability, clock skew and each credential's privileges."""
    checks, contents = check_vault(open_vault())
    target = gateway or (contents.identity.gateway_url if contents and contents.identity else None)
    if target:
        checks += check_gateway(target, wait_s=wait_s)
    for credential in contents.credentials if contents else ():
        checks += check_credential(credential)
    report(checks)


@vault_app.command("export")
def vault_export(
    out: Annotated[Path, typer.Option("--out", help="Backup file to write (0600).")],
    passphrase_env: Annotated[
        str | None, typer.Option("--passphrase-env", help="Read the passphrase from this env var.")
    ] = None,
) -> None:
    """Write the vault encrypted under a passphrase only, to restore on this or another machine."""
    with cli_errors():
        vault = open_vault()
        vault.load()  # fail on a broken vault before asking for a passphrase
        if passphrase_env:
            passphrase = secret_from_env(passphrase_env, what="backup passphrase")
        else:
            passphrase = typer.prompt("Backup passphrase", hide_input=True, confirmation_prompt=True)
        write_private_file(out, vault.export(passphrase))
    typer.echo(f"wrote encrypted backup {out}; keep the passphrase apart from it")


@vault_app.command("import")
def vault_import(
    file: Annotated[Path, typer.Argument(help="Backup made by `vsc-agent vault export`.")],
    passphrase_env: Annotated[
        str | None, typer.Option("--passphrase-env", help="Read the passphrase from this env var.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing vault.")] = False,
) -> None:
    """Restore a backup into this machine's vault (re-keyed to this machine)."""
    with cli_errors():
        vault = open_vault()
        if vault.exists() and not force:
            typer.echo(f"error: a vault already exists at {vault.path}; pass --force to replace it", err=True)
            raise typer.Exit(1)
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise VaultError(f"cannot read backup {file}: {exc.strerror}") from None
        if passphrase_env:
            passphrase = secret_from_env(passphrase_env, what="backup passphrase")
        else:
            passphrase = typer.prompt("Backup passphrase", hide_input=True)
        contents = vault.import_(data, passphrase)
    who = f"agent {contents.identity.agent_id!r}" if contents.identity else "no identity"
    typer.echo(f"restored {vault.path}: {who}, {len(contents.credentials)} credentials")


if __name__ == "__main__":
    app()
