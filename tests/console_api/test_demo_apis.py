"""The demo's Mode 2 pieces in isolation: port/key plan, cloud allow-list, inputs, serving."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import httpx
import pytest

from console_api.demo_apis import (
    INSTANCES,
    TO_CENTRAL,
    api_demo_runs,
    cloud_worker_env,
    reserve_demo_apis,
    serve_demo_apis,
)
from workers.settings import CloudSettings
from workflows.api_types import ApiToApiInput, DbToApiInput, SdkPin
from workflows.transform import TransformSpec

PIN = SdkPin(component_sha256="a" * 64, description_sha256="b" * 64)


def test_plan_is_made_once_private_and_reused(tmp_path: Path) -> None:
    plan = reserve_demo_apis(tmp_path)
    again = reserve_demo_apis(tmp_path)
    assert plan == again and len(set(plan.ports.values())) == len(INSTANCES) == 3
    assert len({k.get_secret_value() for k in plan.keys.values()}) == 3
    assert stat.S_IMODE((tmp_path / "demo-apis.json").stat().st_mode) == 0o600
    assert plan.url("central").startswith("http://127.0.0.1:")


def test_a_plan_of_an_older_version_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "demo-apis.json").write_text('{"onprem_port": 1, "central_port": 2}')
    plan = reserve_demo_apis(tmp_path)
    assert set(plan.ports) == set(INSTANCES) and reserve_demo_apis(tmp_path) == plan


def test_cloud_worker_allows_exactly_the_internet_origins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = reserve_demo_apis(tmp_path)
    for key, value in cloud_worker_env(plan).items():
        monkeypatch.setenv(key, value)
    assert CloudSettings(home=tmp_path).api_private_origins == [plan.url("central"), plan.url("crm")]
    assert plan.url("onprem") not in json.dumps(cloud_worker_env(plan))


def test_demo_inputs_validate_as_the_workflows_read_them(tmp_path: Path) -> None:
    plan = reserve_demo_apis(tmp_path)
    runs = api_demo_runs(plan=plan, pin=PIN, agent="edge-1", secrets={"central": "ref-1", "crm": "ref-2"})
    (p312, db), (p333, api), (p321, saas), (p322, dw) = runs
    assert (p312, p333, p321, p322) == ("3.1.2", "3.3.3", "3.2.1", "3.2.2")
    one, two = DbToApiInput.model_validate(db), ApiToApiInput.model_validate(api)
    assert one.api.accessibility == "local" and one.api.base_url == plan.url("onprem")
    assert two.destination.accessibility == "internet" and two.destination.credential == "ref-1"
    three, four = ApiToApiInput.model_validate(saas), DbToApiInput.model_validate(dw)
    assert (
        three.agent is None
        and three.source.credential == "ref-2"
        and three.source.base_url == plan.url("crm")
    )
    assert four.agent is None and four.source_connection == "cloud_dw" and four.api.credential == "ref-1"
    assert not TransformSpec.model_validate(TO_CENTRAL).is_identity
    # No secret travels in a workflow input, only the names they are kept under.
    text = json.dumps([body for _, body in runs])
    assert not any(key.get_secret_value() in text for key in plan.keys.values())


def test_both_instances_serve_on_their_planned_ports_behind_their_keys(tmp_path: Path) -> None:
    plan = reserve_demo_apis(tmp_path)
    with serve_demo_apis(tmp_path, plan) as stores:
        assert set(stores) == set(INSTANCES)
        for which, key in plan.keys.items():
            ok = httpx.get(f"{plan.url(which)}/orders", headers={"X-API-Key": key.get_secret_value()})
            assert ok.status_code == 200 and ok.json() == {"items": [], "next_cursor": None}
            assert httpx.get(f"{plan.url(which)}/orders").status_code == 401
        other = plan.key("central").get_secret_value()
        assert httpx.get(f"{plan.url('onprem')}/orders", headers={"X-API-Key": other}).status_code == 401
