"""The demo's Mode 2 act: patterns 3.1.2, 3.3.3, 3.2.1 and 3.2.2 through running van-sales APIs.

``vsc up`` reserves the APIs' loopback ports and keys (:func:`reserve_demo_apis`) so the cloud
worker starts with the "internet" APIs' origins in its private allow-list and the agent's vault
gets the on-premise API's key. ``vsc demo`` then serves the three instances inside its own
process, registers their SDK (built from the served ``/openapi.json``, published into the
stack's artifact registry), and runs: 3.1.2, the ERP's PostgreSQL orders POSTed to the
on-premise order API by the agent; 3.3.3, those orders listed back from it by the agent,
transformed in the cloud and POSTed to the central ordering platform; 3.2.1, a CRM SaaS's
orders moved to the central platform by the cloud alone; 3.2.2, the cloud warehouse's orders
(loaded by 3.3.1) POSTed to the central platform.
"""

from __future__ import annotations

import json
import secrets
import socket
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import httpx
from pydantic import BaseModel, SecretStr, ValidationError
from rich.console import Console

from activities.api_pins import pin_sdk
from activities.artifacts import ArtifactRegistry
from activities.buffer import DirectoryBackend
from activities.crypto import Keyring
from activities.metadata import make_engine, tenant_session
from activities.wiring import build_secret_store
from examples.vansales_api.app import API_KEY_HEADER, create_app
from examples.vansales_api.seed import seed_orders
from examples.vansales_api.store import VanSalesStore, orders
from infra.loopback import serve
from workers.settings import CloudSettings
from workflows.api_types import ApiFlowResult, SdkPin

if TYPE_CHECKING:
    from console_api.runs import SummaryLine

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


Which = Literal["onprem", "central", "crm"]
INSTANCES: tuple[Which, ...] = ("onprem", "central", "crm")
"""The on-premise order API (local), the central ordering platform and a CRM SaaS (both internet)."""
INTERNET: tuple[Which, ...] = ("central", "crm")


class DemoApiPlan(BaseModel):
    """Ports and keys of the demo's API instances, fixed by ``vsc up`` for the demo to use."""

    ports: dict[Which, int]
    keys: dict[Which, SecretStr]

    def url(self, which: Which) -> str:
        """Base URL of one instance (loopback only)."""
        return f"http://127.0.0.1:{self.ports[which]}"

    def key(self, which: Which) -> SecretStr:
        """The API key one instance accepts."""
        return self.keys[which]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reserve_demo_apis(home: Path) -> DemoApiPlan:
    """The plan under ``home`` (made on first call: a free loopback port and a random key per instance).

    The file is private (0600): it holds the keys the demo's API instances accept. One written by
    an older version (other instances) is replaced; restart the stack (``vsc down && vsc up``) then.
    """
    path = home / PLAN_FILE
    if path.exists():
        try:
            plan = DemoApiPlan.model_validate_json(path.read_text())
        except ValidationError:
            plan = None
        if plan is not None and set(plan.ports) == set(INSTANCES):
            return plan
    plan = DemoApiPlan(
        ports={which: _free_port() for which in INSTANCES},
        keys={which: SecretStr(secrets.token_urlsafe(24)) for which in INSTANCES},
    )
    home.mkdir(parents=True, exist_ok=True)
    keys = {which: key.get_secret_value() for which, key in plan.keys.items()}
    path.write_text(json.dumps({"ports": plan.ports, "keys": keys}))
    path.chmod(0o600)
    return plan


def cloud_worker_env(plan: DemoApiPlan) -> dict[str, str]:
    """What ``vsc up`` adds to the cloud worker's environment: the internet APIs may be on loopback."""
    return {"VSC_API_PRIVATE_ORIGINS": json.dumps([plan.url(which) for which in INTERNET])}


@contextmanager
def serve_demo_apis(home: Path, plan: DemoApiPlan) -> Iterator[dict[Which, VanSalesStore]]:
    """Serve every instance on its planned port, each over a fresh SQLite store; yields the stores."""
    stores: dict[Which, VanSalesStore] = {}
    with ExitStack() as stack:
        for which in INSTANCES:
            path = home / f"vansales-{which}.db"
            path.unlink(missing_ok=True)
            store = VanSalesStore(url=f"sqlite:///{path.resolve()}")
            stack.callback(store.close)
            app = create_app(
                store=store, api_keys={plan.key(which).get_secret_value(): None}, title=f"Van Sales ({which})"
            )
            stack.enter_context(serve(app, port=plan.ports[which]))
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
        headers={API_KEY_HEADER: plan.key("onprem").get_secret_value()},
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


CRM_ORDERS = 2_000
"""Orders the CRM SaaS stand-in already holds when the demo starts (3.2.1 moves them)."""
FROM_CRM: dict[str, Any] = {
    "filter": "status <> 'cancelled'",
    "derive": [{"name": "order_no", "expr": "concat('CRM-', order_no)"}],
    "select": TO_CENTRAL["select"],
}
FROM_WAREHOUSE: dict[str, Any] = {
    "derive": [{"name": "order_no", "expr": "concat('DW-', order_no)"}],
    "select": TO_CENTRAL["select"],
}


def api_demo_runs(
    *, plan: DemoApiPlan, pin: SdkPin, agent: str, secrets: dict[Which, str]
) -> list[tuple[str, dict[str, Any]]]:
    """The inputs of the demo's Mode 2 runs: 3.1.2, 3.3.3, 3.2.1 and 3.2.2.

    ``secrets``: the secret-store references of the internet APIs' keys (the cloud calls them).
    """
    onprem = _binding(
        "vansales", url=plan.url("onprem"), pin=pin, accessibility="local", credential=ONPREM_SECRET
    )
    internet = {
        which: _binding(
            which, url=plan.url(which), pin=pin, accessibility="internet", credential=secrets[which]
        )
        for which in INTERNET
    }
    post = {"operation": "create_orders", "post": {"records_field": "orders"}, "batch_rows": 500}
    listing = {"list_operation": "list_orders", "pagination": CURSOR_PAGES, "records_table": "orders"}
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
                **post,
            },
        ),
        (
            "3.3.3",
            {
                "agent": agent,
                "source": onprem,
                **listing,
                "transform": TO_CENTRAL,
                "destination": internet["central"],
                **post,
            },
        ),
        (
            "3.2.1",
            {
                "source": internet["crm"],
                **listing,
                "transform": FROM_CRM,
                "destination": internet["central"],
                **post,
            },
        ),
        (
            "3.2.2",
            {
                "source_connection": "cloud_dw",
                "source_table": "orders",
                "key": ["order_no"],
                "transform": FROM_WAREHOUSE,
                "api": internet["central"],
                **post,
            },
        ),
    ]


async def run_api_flows(
    *,
    home: Path,
    address: str,
    tenant: str,
    agent: str,
    keyring: Keyring | None,
    console: Console,
    summary: list[SummaryLine],
) -> bool:
    """Serve the APIs (the CRM seeded), register the SDK, run every Mode 2 pattern; print each result."""
    from console_api.runs import SummaryLine, follow_run, print_results, start_run, ui_link, verified

    plan = reserve_demo_apis(home)
    ok = True
    with serve_demo_apis(home, plan) as stores:
        with console.status("building the van-sales API's SDK (WebAssembly)..."):
            pin = register_demo_sdk(home=home, tenant=tenant, plan=plan, cache_dir=home / "sdk-cache")
        console.print(f"registered SDK of {plan.url('onprem')}/openapi.json (build {pin.build_key[:12]})")
        seed_orders(stores["crm"], CRM_ORDERS, prefix="C")
        settings = CloudSettings(home=home, tenants=[tenant])
        refs = {w: store_cloud_secret(settings=settings, tenant=tenant, value=plan.key(w)) for w in INTERNET}
        for pattern, body in api_demo_runs(plan=plan, pin=pin, agent=agent, secrets=refs):
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
            link = ui_link(handle.id, handle.result_run_id)
            print_results(console, result, link=link)
            summary.append(SummaryLine.of(result, link=link))
            counts = {which: store.count(orders) for which, store in stores.items()}
            sent = result.records_sent if isinstance(result, ApiFlowResult) else 0
            console.print(
                f"{pattern}: {sent:,} records sent; orders stored: on-premise API "
                f"{counts['onprem']:,}, central API {counts['central']:,}, CRM {counts['crm']:,}"
            )
            ok = ok and verified(result)
    return ok
