"""Health checks behind ``vsc-agent doctor`` and ``vsc-agent credentials test``.

Each check returns OK, WARN or FAIL with a one-line reason that names what it checked and
never contains a secret (connector errors are already masked at the SQL adapter edge).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import socket
import time
from enum import StrEnum
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict
from websockets.proxy import get_proxy
from websockets.uri import parse_uri

from activities.errors import VaultError, VscError
from activities.sql import open_connector
from mini_connector._dial import CONNECT_PATH, dial, endpoint, gateway_errors, host_port
from mini_connector.vault import Vault
from mini_connector.vault_models import VaultContents, VaultCredential

__all__ = [
    "SKEW_FAIL_S",
    "SKEW_WARN_S",
    "Check",
    "Status",
    "check_credential",
    "check_gateway",
    "check_vault",
]

SKEW_FAIL_S = 60
"""The gateway refuses a hello whose timestamp is further than this from its clock."""
SKEW_WARN_S = 10


class Status(StrEnum):
    """Outcome of one check; any FAIL makes ``doctor`` exit non-zero."""

    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


class Check(BaseModel):
    """One line of a doctor report."""

    model_config = ConfigDict(frozen=True)

    name: str
    status: Status
    reason: str

    def line(self) -> str:
        """``STATUS name: reason``, aligned for a terminal."""
        return f"{self.status.value:<4} {self.name}: {self.reason}"


def check_vault(vault: Vault) -> tuple[list[Check], VaultContents | None]:
    """Whether the vault opens and authenticates, its file modes, and whether it holds an identity."""
    try:
        contents = vault.load()
    except VaultError as exc:
        return [Check(name="vault", status=Status.FAIL, reason=exc.message)], None
    checks = [
        Check(
            name="vault",
            status=Status.OK,
            reason=f"{vault.path} opens and authenticates ({len(contents.credentials)} credentials)",
        )
    ]
    for problem in vault.permission_problems():
        checks.append(Check(name="vault permissions", status=Status.WARN, reason=problem))
    if contents.identity is None:
        checks.append(
            Check(name="identity", status=Status.WARN, reason="not enrolled yet: run `vsc-agent enroll`")
        )
    else:
        who = contents.identity
        checks.append(
            Check(
                name="identity",
                status=Status.OK,
                reason=f"agent {who.agent_id!r} of tenant {who.tenant!r}",
            )
        )
    return checks, contents


def _tcp_check(url: str, *, wait_s: float) -> Check:
    proxy = get_proxy(parse_uri(url))
    if proxy is not None:
        parts = urlsplit(proxy)
        host, port = parts.hostname or "", parts.port or 8080
        via = f" (proxy {host}:{port} from the environment)"
    else:
        host, port = host_port(url)
        via = ""
    try:
        with gateway_errors(url), socket.create_connection((host, port), timeout=wait_s):
            pass
    except VscError as exc:
        return Check(name="gateway tcp", status=Status.FAIL, reason=exc.message + via)
    return Check(name="gateway tcp", status=Status.OK, reason=f"connected to {host}:{port}{via}")


def _skew_check(date_header: str | None, *, local: float) -> Check:
    if not date_header:
        return Check(
            name="clock", status=Status.WARN, reason="the gateway sent no Date header; skew not measured"
        )
    try:
        remote = email.utils.parsedate_to_datetime(date_header).timestamp()
    except (TypeError, ValueError):
        return Check(name="clock", status=Status.WARN, reason="the gateway's Date header is unparsable")
    skew = local - remote
    reason = f"local clock is {skew:+.0f} s off the gateway's (Date header resolution 1 s)"
    if abs(skew) > SKEW_FAIL_S:
        return Check(
            name="clock",
            status=Status.FAIL,
            reason=f"{reason}; beyond {SKEW_FAIL_S} s the gateway refuses the agent: fix NTP",
        )
    if abs(skew) > SKEW_WARN_S:
        return Check(name="clock", status=Status.WARN, reason=f"{reason}; check NTP")
    return Check(name="clock", status=Status.OK, reason=reason)


async def _handshake(url: str, *, wait_s: float) -> tuple[str | None, float, str | bytes]:
    async with dial(url, wait_s=wait_s) as ws:
        local = time.time()
        date = ws.response.headers.get("Date") if ws.response is not None else None
        first = await asyncio.wait_for(ws.recv(), wait_s)
    return date, local, first


def check_gateway(gateway_url: str, *, wait_s: float = 5.0) -> list[Check]:
    """TCP reachability, a WebSocket handshake that yields the gateway's challenge, and clock skew."""
    try:
        url = endpoint(gateway_url, CONNECT_PATH)
    except VscError as exc:
        return [Check(name="gateway", status=Status.FAIL, reason=exc.message)]
    tcp = _tcp_check(url, wait_s=wait_s)
    if tcp.status is Status.FAIL:
        return [tcp]
    try:
        with gateway_errors(url):
            date, local, first = asyncio.run(_handshake(url, wait_s=wait_s))
    except (VscError, TimeoutError) as exc:
        reason = exc.message if isinstance(exc, VscError) else f"{url} sent no challenge in time"
        return [tcp, Check(name="gateway websocket", status=Status.FAIL, reason=reason)]
    try:
        challenge = json.loads(first)
        is_challenge = isinstance(challenge, dict) and challenge.get("type") == "challenge"
    except ValueError:
        is_challenge = False
    ws_check = (
        Check(name="gateway websocket", status=Status.OK, reason=f"{url} answered with a challenge")
        if is_challenge
        else Check(
            name="gateway websocket",
            status=Status.FAIL,
            reason=f"{url} accepted the WebSocket but did not send a challenge: is this the agent gateway?",
        )
    )
    return [tcp, ws_check, _skew_check(date, local=local)]


def check_credential(credential: VaultCredential) -> list[Check]:
    """Connect with one credential, list its tables and compare its privileges with its write flag."""
    name = f"credential {credential.name}"
    try:
        with open_connector(credential.profile()) as conn:
            tables = conn.discover()
            report = conn.privileges()
    except VscError as exc:
        return [Check(name=name, status=Status.FAIL, reason=exc.message)]
    reach = Check(
        name=name,
        status=Status.OK,
        reason=f"connected to {credential.masked_url()} as {report.user!r}; {len(tables)} tables visible",
    )
    why = ", ".join(report.reasons[:4]) + (" ..." if len(report.reasons) > 4 else "")
    if not credential.write and report.can_write:
        privileges = Check(
            name=f"{name} privileges",
            status=Status.WARN,
            reason=f"configured read-only, but database user {report.user!r} can write ({why}); "
            "grant it SELECT only",
        )
    elif credential.write and not report.can_write:
        privileges = Check(
            name=f"{name} privileges",
            status=Status.WARN,
            reason=f"granted write, but database user {report.user!r} cannot write anywhere",
        )
    else:
        mode = "read-write as configured" if credential.write else "read-only as configured"
        privileges = Check(name=f"{name} privileges", status=Status.OK, reason=mode)
    return [reach, privileges]
