"""``vsc-agent run``: the agent worker with its identity and credentials from the local vault.

The vault is the only source: the gateway URL, tenant and agent id come from the enrolled
identity, the Ed25519 key signs the gateway's challenges, the credentials are the connection
registry and the API secrets are what ``call_api`` authenticates to local user APIs with. The
agent is given no Temporal address; it reaches Temporal only through the gateway.
"""

from __future__ import annotations

from activities.errors import GatewayRefusedError, VaultError
from mini_connector.identity import AgentIdentity
from mini_connector.settings import AgentSettings
from mini_connector.vault import Vault
from mini_connector.vault_secrets import VaultSecrets
from mini_connector.worker import serve_agent

_FIXES = {
    "revoked": "this agent was revoked in the console; to bring it back, issue a new enrollment "
    "token and run `vsc-agent enroll --force`",
    "unknown_agent": "the gateway has no such enrolled agent (another gateway or metadata store?); "
    "issue a new enrollment token and run `vsc-agent enroll --force`",
    "bad_signature": "the gateway holds another key for this agent (enrolled again elsewhere?); "
    "run `vsc-agent enroll --force` with a new token",
    "bad_certificate": "check the gateway URL, or give the CA that signs its certificate "
    "(VSC_AGENT_GATEWAY_CA_FILE); `vsc-agent doctor` shows the details",
}


def settings_for(settings: AgentSettings, identity: AgentIdentity) -> AgentSettings:
    """``settings`` with who the agent is and where its gateway is taken from the enrolled identity."""
    return settings.model_copy(
        update={"tenant": identity.tenant, "agent_id": identity.agent_id, "gateway_url": identity.gateway_url}
    )


def enrolled_identity(vault: Vault) -> AgentIdentity:
    """The vault's identity.

    Raises:
        VaultError: No vault, a vault that does not open, or not enrolled yet.
    """
    identity = vault.identity()
    if identity is None:
        raise VaultError(
            f"the vault {vault.path} holds no identity: enroll this agent first "
            "(`vsc-agent enroll --gateway URL --token TOKEN --agent-id ID`)",
            file=str(vault.path),
        )
    return identity


async def run_agent(settings: AgentSettings | None = None) -> None:
    """Serve the enrolled agent's queue through its gateway until cancelled.

    Raises:
        VaultError: The vault is missing, does not open, or holds no identity.
        GatewayRefusedError: The gateway refused this agent for good; the message says what to do.
    """
    settings = settings or AgentSettings()
    vault = Vault.from_settings(settings)
    identity = enrolled_identity(vault)
    try:
        await serve_agent(
            settings_for(settings, identity),
            signer=identity.key(),
            registry=vault.registry_loader(),
            api_secrets=VaultSecrets(vault, tenant=identity.tenant),
        )
    except GatewayRefusedError as exc:
        code = str(exc.fields.get("code", ""))
        fix = _FIXES.get(code)
        if fix is None:
            raise
        raise GatewayRefusedError(f"{exc.message}; {fix}", code=code) from None
