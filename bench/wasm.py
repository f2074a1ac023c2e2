"""The WASM group of ``make bench``: what running a user API's SDK in the sandbox costs, in one run.

Three figures, each against a same-run reference where one exists:

- SDK call overhead: the same GET against the same loopback API, once through the generated SDK
  (guest builds the request, host checks egress, injects the key, audits, the guest decodes)
  and once as a direct ``httpx`` call; interleaved rounds so drift hits both; p50 and p99 of
  each and the p50 difference (target <= 2 ms);
- cold load of a cached SDK: a fresh ``SdkHost`` deserializes the precompiled copy and makes its
  first call, which instantiates the component (target <= 200 ms);
- build time of one SDK: render + componentize-py with an empty cache, and the cache hit.

``python -m bench.wasm`` runs this group alone.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel, SecretStr
from rich.console import Console
from rich.table import Table

from infra.loopback import serve
from sdkgen.build import build_component, precompile
from sdkgen.engine import ENGINE_KEY
from sdkgen.model import ApiKeyAuth
from sdkgen.operations import describe
from sdkgen.render import render_sdk
from sdkgen.runtime import CallTarget, SdkHost
from sdkgen.spec import load_spec

CALL_P50_BUDGET_MS = 2.0
COLD_LOAD_BUDGET_MS = 200.0
_KEY = "bench-key"
_WARMUP = 20


class WasmReport(BaseModel):
    """The figures of one WASM group run."""

    calls: int
    wasm_p50_ms: float
    wasm_p99_ms: float
    direct_p50_ms: float
    direct_p99_ms: float
    overhead_p50_ms: float
    cold_load_ms: float
    """Median of fresh hosts: deserialize the precompiled copy, instantiate, first call."""
    build_s: float
    """Render + compile with an empty cache."""
    cached_build_s: float
    component_mb: float
    precompiled_mb: float

    @property
    def overhead_ok(self) -> bool:
        """The p50 target of the issue: SDK call within 2 ms of a direct call."""
        return self.overhead_p50_ms <= CALL_P50_BUDGET_MS

    @property
    def cold_load_ok(self) -> bool:
        """The cold-load target: a cached SDK ready and called within 200 ms."""
        return self.cold_load_ms <= COLD_LOAD_BUDGET_MS


def _api() -> FastAPI:
    """A van-sales-shaped read API: one customer by id, behind an API key."""
    app = FastAPI(title="bench customers", version="1")

    class Customer(BaseModel):
        id: int
        name: str
        city: str
        credit_limit: float

    @app.get("/customers/{customer_id}", operation_id="get_customer", response_model=Customer)
    def get_customer(customer_id: int, x_api_key: str = Header(default="")) -> Customer:
        if x_api_key != _KEY:
            raise HTTPException(status_code=401, detail="bad key")
        return Customer(id=customer_id, name=f"Customer {customer_id}", city="Lyon", credit_limit=1500.0)

    return app


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_wasm_bench(*, calls: int) -> WasmReport:
    """Build the SDK of a loopback API, then time calls, cold loads and the build itself."""
    app = _api()
    spec = load_spec(json.dumps(app.openapi()).encode())
    desc = describe(spec)
    operation = desc.operation("get_customer")
    source = render_sdk(desc)
    with tempfile.TemporaryDirectory(prefix="vsc-bench-wasm-") as tmp:
        fresh = Path(tmp) / "fresh"
        t0 = time.perf_counter()
        component = build_component(source, cache_dir=fresh)
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        build_component(source, cache_dir=fresh)
        cached_build_s = time.perf_counter() - t0
    compiled = precompile(component)
    with serve(app) as base_url:
        target = CallTarget(
            tenant="bench",
            api="customers",
            base_url=base_url,
            runs_on="agent",
            accessibility="local",
            auth=ApiKeyAuth(name="X-API-Key"),
            secret=SecretStr(_KEY),
        )
        cold: list[float] = []
        for _ in range(5):
            t0 = time.perf_counter()
            host = SdkHost()
            sdk = host.load(compiled, engine_key=ENGINE_KEY)
            host.call(sdk=sdk, operation=operation, args={"customer_id": 1}, target=target)
            cold.append((time.perf_counter() - t0) * 1000)
            host.close()
        host = SdkHost()
        sdk = host.load(compiled, engine_key=ENGINE_KEY)
        wasm: list[float] = []
        direct: list[float] = []
        with httpx.Client(base_url=base_url, headers={"X-API-Key": _KEY}) as client:
            for i in range(_WARMUP + calls):
                t0 = time.perf_counter()
                answer = host.call(sdk=sdk, operation=operation, args={"customer_id": i}, target=target)
                t1 = time.perf_counter()
                r = client.get(f"/customers/{i}")
                r.raise_for_status()
                t2 = time.perf_counter()
                if answer.body != r.json():
                    raise AssertionError(f"the SDK and the direct call disagree on customer {i}")
                if i >= _WARMUP:
                    wasm.append((t1 - t0) * 1000)
                    direct.append((t2 - t1) * 1000)
        host.close()
    return WasmReport(
        calls=calls,
        wasm_p50_ms=statistics.median(wasm),
        wasm_p99_ms=_pct(wasm, 0.99),
        direct_p50_ms=statistics.median(direct),
        direct_p99_ms=_pct(direct, 0.99),
        overhead_p50_ms=statistics.median(wasm) - statistics.median(direct),
        cold_load_ms=statistics.median(cold),
        build_s=build_s,
        cached_build_s=cached_build_s,
        component_mb=len(component) / 2**20,
        precompiled_mb=len(compiled) / 2**20,
    )


def render_wasm(report: WasmReport, *, title: str) -> Table:
    """One row per figure: measured, same-run reference, target and verdict."""
    table = Table(title=title)
    for name in ("measure", "ours", "reference", "target", "verdict"):
        table.add_column(name, no_wrap=True)

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    table.add_row(
        f"SDK call p50 ({report.calls} calls)",
        f"{report.wasm_p50_ms:.2f} ms",
        f"direct httpx {report.direct_p50_ms:.2f} ms",
        f"<= direct + {CALL_P50_BUDGET_MS:g} ms",
        f"{verdict(report.overhead_ok)} ({report.overhead_p50_ms:+.2f} ms)",
    )
    table.add_row(
        "SDK call p99",
        f"{report.wasm_p99_ms:.2f} ms",
        f"direct httpx {report.direct_p99_ms:.2f} ms",
        "-",
        f"({report.wasm_p99_ms - report.direct_p99_ms:+.2f} ms)",
    )
    table.add_row(
        "cold load of a cached SDK + first call",
        f"{report.cold_load_ms:.1f} ms",
        "-",
        f"<= {COLD_LOAD_BUDGET_MS:g} ms",
        verdict(report.cold_load_ok),
    )
    table.add_row(
        "build one SDK (render + componentize-py)",
        f"{report.build_s:.1f} s",
        f"cache hit {report.cached_build_s * 1000:.1f} ms",
        "-",
        "-",
    )
    table.caption = (
        f"component {report.component_mb:.1f} MB, precompiled copy {report.precompiled_mb:.1f} MB"
    )
    return table


def print_wasm(console: Console, report: WasmReport, *, title: str = "wasm: generated SDK vs direct") -> None:
    """Print the WASM table."""
    console.print(render_wasm(report, title=title))


def main() -> None:
    """Run the group alone and print its figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    report = run_wasm_bench(calls=args.calls)
    print_wasm(Console(), report)
    print(report.model_dump_json(indent=2))


if __name__ == "__main__":
    main()
