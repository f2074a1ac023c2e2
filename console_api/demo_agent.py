"""The demo's on-premise agent: enrolled with the local gateway, credentials in its own vault.

``vsc up`` calls :func:`prepare_demo_agent` before it starts the agent, so the agent process
gets no Temporal address and no JSON registry: it reaches Temporal only through the gateway,
with the identity and credentials of the vault under ``<home>/agent``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from activities.errors import VaultError
from activities.metadata import Agent, make_engine, provision_tenant, tenant_session
from console_api.demo import MARIADB, PG
from console_api.demo_apis import ONPREM_SECRET, reserve_demo_apis
from console_api.gateway import issue_enrollment_token
from mini_connector.settings import AgentSettings
from mini_connector.vault import Vault
from mini_connector.vault_models import VaultApiSecret, VaultCredential

DEMO_TENANT = "demo"
DEMO_AGENT = "edge-1"


def agent_home(home: Path) -> Path:
    """Where the demo agent keeps its vault and agent secret (``VSC_AGENT_HOME``)."""
    return home / "agent"


def agent_env(home: Path) -> dict[str, str]:
    """Environment of the demo agent's processes: its own home and nothing about Temporal.

    Nothing about the buffer either: the agent reads and writes chunks, and gets its data
    keys, only through its gateway session; it holds no object-store path or key of its own.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("VSC_AGENT_")}
    return {**env, "VSC_AGENT_HOME": str(agent_home(home))}


def demo_credentials(home: Path) -> list[VaultCredential]:
    """The demo's local endpoints: the three "on-premise" ERPs and the local warehouse."""
    sqlite_path = (home / "onprem.db").resolve()
    return [
        VaultCredential(name="erp_sqlite", kind="sqlite", url=f"sqlite:///{sqlite_path}"),
        VaultCredential(name="erp_mariadb", kind="mysql", url=MARIADB.format(db="vsc_onprem")),
        VaultCredential(name="erp_pg", kind="postgresql", url=PG.format(db="vsc_onprem")),
        VaultCredential(
            name="local_dw",
            kind="postgresql",
            url=PG.format(db="vsc_local_dw"),
            write=True,
        ),
    ]


def _enrolled_key(metadata_url: str) -> str | None:
    engine = make_engine(metadata_url)
    try:
        provision_tenant(engine, tenant_id=DEMO_TENANT, name=DEMO_TENANT)
        with tenant_session(engine, DEMO_TENANT) as session:
            agent = session.scalars(select(Agent).where(Agent.connector_id == DEMO_AGENT)).one_or_none()
            return None if agent is None or agent.revoked_at is not None else agent.public_key
    finally:
        engine.dispose()


def _issue_token(metadata_url: str) -> str:
    engine = make_engine(metadata_url)
    try:
        return issue_enrollment_token(engine, tenant_id=DEMO_TENANT, agent_id=DEMO_AGENT)
    finally:
        engine.dispose()


def prepare_demo_agent(home: Path, *, gateway_url: str, metadata_url: str) -> str:
    """Enroll the demo agent (unless the gateway already knows its key) and store its credentials.

    Runs ``vsc-agent enroll`` as the operator would, with a fresh one-time token.

    Returns:
        What was done, for the console.

    Raises:
        VaultError: Enrollment failed (the message is ``vsc-agent``'s).
    """
    env = agent_env(home)
    vault = Vault.from_settings(AgentSettings(home=agent_home(home)))
    identity = vault.identity() if vault.exists() else None
    known_key = _enrolled_key(metadata_url)
    done = "agent already enrolled"
    if identity is None or identity.key().public_key_b64() != known_key:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "mini_connector.cli",
                "enroll",
                "--gateway",
                gateway_url,
                "--agent-id",
                DEMO_AGENT,
                "--force",
            ],
            env={**env, "VSC_AGENT_ENROLL_TOKEN": _issue_token(metadata_url)},
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise VaultError(f"vsc-agent enroll failed: {(proc.stderr or proc.stdout).strip()}")
        done = f"enrolled agent {DEMO_AGENT!r} of tenant {DEMO_TENANT!r} with {gateway_url}"
    for credential in demo_credentials(home):
        vault.add_credential(credential, replace=True)
    # The on-premise van-sales API's key stays on the premises, in the vault, like the DB passwords.
    onprem_key = reserve_demo_apis(home).key("onprem")
    vault.add_api_secret(VaultApiSecret(name=ONPREM_SECRET, secret=onprem_key), replace=True)
    return f"{done}; {len(demo_credentials(home))} demo credentials and 1 API key in {vault.path}"
