"""The demo's Mode 2 act: patterns 3.1.2 and 3.3.3 through two running van-sales APIs.

``vsc up`` reserves the APIs' loopback ports and keys (:func:`reserve_demo_apis`) so the cloud
worker starts with the "internet" API's origin in its private allow-list and the agent's vault
gets the on-premise API's key. ``vsc demo`` then serves both API instances inside its own
process, registers their SDK (built from the served ``/openapi.json``, published into the
stack's artifact registry), and runs: 3.1.2, the ERP's PostgreSQL orders POSTed to the
on-premise order API by the agent; 3.3.3, those orders listed back from it by the agent,
transformed in the cloud and POSTed to the central ordering platform.
"""

from __future__ import annotations

import json
import secrets
import socket
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, SecretStr
from rich.console import Console

from activities.api_pins import pin_sdk
from activities.artifacts import ArtifactRegistry
from activities.buffer import DirectoryBackend
from activities.crypto import Keyring
from activities.metadata import make_engine, tenant_session
from activities.wiring import build_secret_store
from examples.vansales_api.app import API_KEY_HEADER, create_app
from examples.vansales_api.store import VanSalesStore, orders
from infra.loopback import serve
from workers.settings import CloudSettings
from workflows.api_types import ApiFlowResult, SdkPin

PLAN_FILE = "demo-apis.json"
ONPREM_SECRET = "vansales_onprem"
"""The agent vault's name for the on-premise API's key (the binding's credential reference)."""
CURSOR_PAGES: dict[str, Any] = {
    "kind": "cursor",
    "param": "cursor",
    "size_param": "limit",
    "size": 500,
    "items_path": "items",
    "cursor_path": "next_cursor",
}
TO_CENTRAL: dict[str, Any] = {
    "filter": "status <> 'cancelled'",
    "derive": [{"name": "order_no", "expr": "concat('HQ-', order_no)"}],
    "select": ["order_no", "customer_id", "order_date", "status", "total_amount", "note"],
}
"""The cloud transform of 3.3.3: cancelled orders stay home, order numbers get the platform's prefix."""


class DemoApiPlan(BaseModel):
    """Ports and keys of the demo's two API instances, fixed by ``vsc up`` for the demo to use."""

    onprem_port: int
    central_port: int
    onprem_key: SecretStr
    central_key: SecretStr

    def url(self, which: str) -> str:
        """Base URL of ``onprem`` or ``central`` (loopback only)."""
        return f"http://127.0.0.1:{self.onprem_port if which == 'onprem' else self.central_port}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reserve_demo_apis(home: Path) -> DemoApiPlan:
    """The plan under ``home`` (made on first call: two free loopback ports, two random keys).

    The file is private (0600): it holds the keys the demo's API instances accept.
    """
    path = home / PLAN_FILE
    if path.exists():
        return DemoApiPlan.model_validate_json(path.read_text())
    plan = DemoApiPlan(
        onprem_port=_free_port(),
        central_port=_free_port(),
        onprem_key=SecretStr(secrets.token_urlsafe(24)),
        central_key=SecretStr(secrets.token_urlsafe(24)),
    )
    home.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                **plan.model_dump(exclude={"onprem_key", "central_key"}),
                "onprem_key": plan.onprem_key.get_secret_value(),
                "central_key": plan.central_key.get_secret_value(),
            }
        )
    )
    path.chmod(0o600)
    return plan


def cloud_worker_env(plan: DemoApiPlan) -> dict[str, str]:
    """What ``vsc up`` adds to the cloud worker's environment: the central API may be on loopback."""
    return {"VSC_API_PRIVATE_ORIGINS": json.dumps([plan.url("central")])}


@contextmanager
def serve_demo_apis(home: Path, plan: DemoApiPlan) -> Iterator[dict[str, VanSalesStore]]:
    """Serve both instances on their planned ports, each over a fresh SQLite store; yields the stores."""
    stores: dict[str, VanSalesStore] = {}
    with ExitStack() as stack:
        for which, key in (("onprem", plan.onprem_key), ("central", plan.central_key)):
            path = home / f"vansales-{which}.db"
            path.unlink(missing_ok=True)
            store = VanSalesStore(url=f"sqlite:///{path.resolve()}")
            stack.callback(store.close)
            app = create_app(
                store=store, api_keys={key.get_secret_value(): None}, title=f"Van Sales ({which})"
            )
            port = plan.onprem_port if which == "onprem" else plan.central_port
            stack.enter_context(serve(app, port=port))
            stores[which] = store
        yield stores


def register_demo_sdk(*, home: Path, tenant: str, plan: DemoApiPlan, cache_dir: Path) -> SdkPin:
    """Fetch the on-premise API's ``/openapi.json``, build its SDK and publish it for ``tenant``.

    Into the stack's artifact registry (``<home>/artifacts``): the cloud worker reads it directly,
    the agent through its gateway session.

    Raises:
        SpecInvalidError: The served document is not a usable OpenAPI spec.
        SdkBuildError: The build failed.
    """
    from sdkgen.build import publish_sdk  # cloud extra: componentize-py
    from sdkgen.operations import describe
    from sdkgen.spec import load_spec

    response = httpx.get(
        f"{plan.url('onprem')}/openapi.json",
        headers={API_KEY_HEADER: plan.onprem_key.get_secret_value()},
        timeout=30,
        trust_env=False,
    )
    response.raise_for_status()
    spec = response.content
    desc = describe(load_spec(spec))
    cache_dir.mkdir(parents=True, exist_ok=True)
    registry = ArtifactRegistry(backend=DirectoryBackend(home / "artifacts"))
    published = publish_sdk(registry=registry, tenant=tenant, spec_bytes=spec, desc=desc, cache_dir=cache_dir)
    return pin_sdk(registry=registry, tenant=tenant, desc=desc, artifacts=published)


def store_cloud_secret(*, settings: CloudSettings, tenant: str, value: SecretStr) -> str:
    """Keep an internet API's key in the tenant's secret store, as registration does; its reference.

    The demo and the Mode 2 workflow tests use it with the cloud worker's own settings.
    """
    store = build_secret_store(
        vault=settings.vault,
        master_key=settings.secret_master_key,
        master_keyfile=settings.secret_master_keyfile,
        keyring_dir=settings.secret_keyring_dir,
        create_missing=True,
    )
    engine = make_engine(settings.metadata_url)
    try:
        with tenant_session(engine, tenant) as session:
            return store.put(session, {"secret": value.get_secret_value()})
    finally:
        engine.dispose()


def _binding(name: str, *, url: str, pin: SdkPin, accessibility: str, credential: str) -> dict[str, Any]:
    return {
        "name": name,
        "sdk": pin.model_dump(mode="json"),
        "base_url": url,
        "accessibility": accessibility,
        "auth": {"kind": "api_key", "name": API_KEY_HEADER},
        "credential": credential,
        "writable_ops": ["create_orders"],
    }


def api_demo_runs(
    *, plan: DemoApiPlan, pin: SdkPin, agent: str, central_secret: str
) -> list[tuple[str, dict[str, Any]]]:
    """The inputs of the demo's 3.1.2 and 3.3.3 runs."""
    onprem = _binding(
        "vansales", url=plan.url("onprem"), pin=pin, accessibility="local", credential=ONPREM_SECRET
    )
    central = _binding(
        "central", url=plan.url("central"), pin=pin, accessibility="internet", credential=central_secret
    )
    return [
        (
            "3.1.2",
            {
                "agent": agent,
                "source_connection": "erp_pg",
                "source_table": "orders",
                # order_no is the business key the API stores orders by (order_id stays in the ERP)
                "key": ["order_no"],
                "transform": {"select": TO_CENTRAL["select"]},
                "api": onprem,
                "operation": "create_orders",
                "post": {"records_field": "orders"},
                "batch_rows": 500,
            },
        ),
        (
            "3.3.3",
            {
                "agent": agent,
                "source": onprem,
                "list_operation": "list_orders",
                "pagination": CURSOR_PAGES,
                "records_table": "orders",
                "transform": TO_CENTRAL,
                "destination": central,
                "operation": "create_orders",
                "post": {"records_field": "orders"},
                "batch_rows": 500,
            },
        ),
    ]


async def run_api_flows(
    *, home: Path, address: str, tenant: str, agent: str, keyring: Keyring | None, console: Console
) -> bool:
    """Serve the APIs, register the SDK, run 3.1.2 then 3.3.3 and print one line per pattern."""
    from console_api.runs import follow_run, print_results, start_run, ui_link, verified

    plan = reserve_demo_apis(home)
    ok = True
    with serve_demo_apis(home, plan) as stores:
        with console.status("building the van-sales API's SDK (WebAssembly)..."):
            pin = register_demo_sdk(home=home, tenant=tenant, plan=plan, cache_dir=home / "sdk-cache")
        console.print(f"registered SDK of {plan.url('onprem')}/openapi.json (build {pin.build_key[:12]})")
        settings = CloudSettings(home=home, tenants=[tenant])
        secret = store_cloud_secret(settings=settings, tenant=tenant, value=plan.central_key)
        for pattern, body in api_demo_runs(plan=plan, pin=pin, agent=agent, central_secret=secret):
            handle = await start_run(
                address=address,
                tenant=tenant,
                pattern=pattern,
                body=body,
                workflow_id=f"demo-{pattern}-{uuid.uuid4().hex[:8]}",
                keyring=keyring,
            )
            try:
                result = await follow_run(handle, console=console, pattern=pattern)
            except Exception as exc:  # noqa: BLE001 - a failed run is reported, the demo goes on
                console.print(f"[red]{pattern} failed:[/] {getattr(exc, 'cause', None) or exc}")
                ok = False
                continue
            print_results(console, result, link=ui_link(handle.id, handle.result_run_id))
            counts = {which: store.count(orders) for which, store in stores.items()}
            sent = result.records_sent if isinstance(result, ApiFlowResult) else 0
            console.print(
                f"{pattern}: {sent:,} records sent; orders stored: on-premise API "
                f"{counts['onprem']:,}, central API {counts['central']:,}"
            )
            ok = ok and verified(result)
    return ok
