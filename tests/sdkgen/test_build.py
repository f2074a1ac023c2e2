"""Compiled SDK components in real wasmtime: the WIT contract, argument checks, caching and publishing.

One component is built per session (componentize-py costs ~10 s of both cores); a test host
answers ``host.send`` from a dict, so no socket is ever opened.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from wasmtime import Store
from wasmtime.component import Component, Linker, Record, Variant

from activities.artifacts import ArtifactRegistry
from activities.buffer import DirectoryBackend
from activities.errors import SdkBuildError
from sdkgen import build
from sdkgen.build import build_component, build_key, precompile, publish_sdk
from sdkgen.engine import ENGINE_KEY, engine
from sdkgen.render import render_sdk
from tests.sdkgen.samples import SPEC_BYTES, van_sales

Answer = tuple[int, list[tuple[str, str]], bytes] | str
"""A response (status, headers, body) or, as a str, the host's refusal."""


@dataclass
class FakeHost:
    """Answers by (method, url); records every request the guest sent."""

    answers: dict[tuple[str, str], Answer] = field(default_factory=dict)
    seen: list[dict[str, Any]] = field(default_factory=list)

    def send(self, _store: Store, req: Any) -> Record | str:
        self.seen.append(
            {
                "method": req.method,
                "url": req.url,
                "headers": [(h.name, h.value) for h in req.headers],
                "body": None if req.body is None else bytes(req.body),
            }
        )
        answer = self.answers.get((req.method, req.url), "no such route in the test host")
        if isinstance(answer, str):  # result<response, string>: wasmtime tells the cases apart by type
            return answer
        response = Record()
        response.status, response.body = answer[0], answer[2]
        response.headers = []
        for name, value in answer[1]:
            header = Record()
            header.name, header.value = name, value
            response.headers.append(header)
        return response


@dataclass
class Guest:
    call: Callable[[str, str], Variant]
    describe: Callable[[], str]


def instantiate(component: Component, host: FakeHost) -> Guest:
    linker = Linker(engine())
    with linker.root() as root, root.add_instance("vsc:sdk/host@0.1.0") as iface:
        iface.add_func("send", host.send)
    store = Store(engine())
    store.set_epoch_deadline(1_000_000)  # epoch interruption is on; nothing ticks in these tests
    instance = linker.instantiate(store, component)
    call, describe = instance.get_func(store, "call"), instance.get_func(store, "describe")
    assert call is not None and describe is not None
    return Guest(call=lambda op, req: call(store, op, req), describe=lambda: describe(store))


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sdk-cache")


@pytest.fixture(scope="session")
def component_bytes(cache_dir: Path) -> bytes:
    source = render_sdk(van_sales())
    data = build_component(source, cache_dir=cache_dir)
    assert (cache_dir / f"{build_key(source)}.wasm").read_bytes() == data
    return data


@pytest.fixture(scope="session")
def precompiled_bytes(component_bytes: bytes) -> bytes:
    return precompile(component_bytes)


@pytest.fixture(scope="session", params=["component", "precompiled"])
def loaded(request: pytest.FixtureRequest, component_bytes: bytes) -> Component:
    """Compiled once per session: compiling an 18 MB component takes seconds."""
    if request.param == "component":
        return Component(engine(), component_bytes)
    return Component.deserialize(engine(), request.getfixturevalue("precompiled_bytes"))


BASE = "https://api.example.test/v1/"
JSON = [("Content-Type", "application/json")]


def request(args: dict[str, Any], **extra: Any) -> str:
    return json.dumps({"base_url": BASE, "args": args, **extra})


def ok(result: Variant) -> dict[str, Any]:
    assert result.tag == "ok", result.payload
    return json.loads(result.payload)


def err(result: Variant) -> dict[str, Any]:
    assert result.tag == "err", result.payload
    return json.loads(result.payload)


def test_describe_lists_the_operations(loaded: Component) -> None:
    described = json.loads(instantiate(loaded, FakeHost()).describe())
    assert described == {
        "title": "Van Sales",
        "version": "1.2.0",
        "spec_sha256": hashlib.sha256(SPEC_BYTES).hexdigest(),
        "operations": ["get_order", "list", "health"],
    }


def test_call_builds_the_exact_request_and_decodes_json(loaded: Component) -> None:
    url = f"{BASE.rstrip('/')}/orders/A%2F7%20x/lines?status=open&status=paid%20%26%20due&limit=3"
    host = FakeHost({("GET", url): (200, [*JSON, ("X-Rate", "9")], b'{"id": "A/7 x", "lines": [1, 2]}')})
    guest = instantiate(loaded, host)
    args = {"order_id": "A/7 x", "status": ["open", "paid & due"], "limit": 3, "x_trace": "t-1"}
    assert ok(guest.call("get_order", request(args))) == {
        "status": 200,
        "headers": {"content-type": "application/json", "x-rate": "9"},
        "body": {"id": "A/7 x", "lines": [1, 2]},
        "text": None,
    }
    assert host.seen == [
        {
            "method": "GET",
            "url": url,
            "headers": [("X-Trace", "t-1"), ("accept", "application/json")],
            "body": None,
        }
    ]


def test_call_sends_a_json_body(loaded: Component) -> None:
    host = FakeHost({("POST", f"{BASE}orders?dry_run=false"): (201, JSON, b'{"created": true}')})
    guest = instantiate(loaded, host)
    result = ok(guest.call("list", request({"dry_run": False}, body={"customer": "Zoë", "qty": 2})))
    assert result["status"] == 201 and result["body"] == {"created": True}
    assert host.seen[0]["body"] == '{"customer":"Zoë","qty":2}'.encode()
    assert ("content-type", "application/json") in host.seen[0]["headers"]


def test_non_json_response_comes_back_as_text(loaded: Component) -> None:
    host = FakeHost(
        {("GET", f"{BASE}health"): (503, [("content-type", "text/plain; charset=utf-8")], b"down")}
    )
    assert ok(instantiate(loaded, host).call("health", request({}))) == {
        "status": 503,
        "headers": {"content-type": "text/plain; charset=utf-8"},
        "body": None,
        "text": "down",
    }


def test_json_content_type_with_garbage_is_bad_response(loaded: Component) -> None:
    host = FakeHost({("GET", f"{BASE}health"): (200, JSON, b"<html>")})
    assert err(instantiate(loaded, host).call("health", request({})))["kind"] == "bad_response"


def test_deeply_nested_response_is_bad_response_not_a_trap(loaded: Component) -> None:
    deep = b"[" * 5000 + b"]" * 5000
    host = FakeHost({("GET", f"{BASE}health"): (200, JSON, deep)})
    guest = instantiate(loaded, host)
    assert "deeper than 256" in err(guest.call("health", request({})))["message"]
    nested = b"[" * 200 + b'"[[[["' + b"]" * 200  # brackets inside strings do not count
    host.answers[("GET", f"{BASE}health")] = (200, JSON, nested)
    assert ok(guest.call("health", request({})))["status"] == 200


def test_host_refusal_is_host_refused(loaded: Component) -> None:
    host = FakeHost({("GET", f"{BASE}health"): "egress denied: api.example.test is not allowed"})
    assert err(instantiate(loaded, host).call("health", request({}))) == {
        "kind": "host_refused",
        "message": "egress denied: api.example.test is not allowed",
    }


@pytest.mark.parametrize(
    ("operation", "payload"),
    [
        ("get_order", request({})),
        ("get_order", request({"order_id": "1", "limit": True})),
        ("get_order", request({"order_id": "1", "limit": "3"})),
        ("get_order", request({"order_id": "1", "evil": "x"})),
        ("get_order", request({"order_id": "1", "x_trace": "a\nb"})),
        ("list", request({})),
        ("list", request({}, body="not an object")),
        ("get_order", "{not json"),
        ("get_order", "[]"),
        ("get_order", json.dumps({"args": {"order_id": "1"}})),
        ("get_order", "[" * 100_000 + "]" * 100_000),
    ],
)
def test_invalid_arguments_are_refused_before_any_send(
    loaded: Component, operation: str, payload: str
) -> None:
    host = FakeHost()
    assert err(instantiate(loaded, host).call(operation, payload))["kind"] == "invalid_argument"
    assert host.seen == []


def test_unknown_operation(loaded: Component) -> None:
    host = FakeHost()
    assert err(instantiate(loaded, host).call("drop_tables", request({})))["kind"] == "unknown_operation"
    assert host.seen == []


def test_build_key_covers_source_wit_and_tool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = render_sdk(van_sales())
    key = build_key(source)
    assert key == build_key(source) and len(key) == 64
    assert build_key(source + "\n") != key
    monkeypatch.setattr(build, "COMPONENTIZE_PY_VERSION", "0.0.0")
    assert build_key(source) != key
    monkeypatch.undo()
    wit = tmp_path / "wit"
    shutil.copytree(build.WIT_DIR, wit)
    monkeypatch.setattr(build, "WIT_DIR", wit)
    assert build_key(source) == key
    (wit / "sdk.wit").write_text((wit / "sdk.wit").read_text() + "\n// changed\n")
    assert build_key(source) != key


def test_cached_build_is_returned_without_compiling(
    component_bytes: bytes, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_compile(_source: str) -> bytes:
        raise AssertionError("compiled although cached")

    monkeypatch.setattr(build, "_compile", no_compile)
    assert build_component(render_sdk(van_sales()), cache_dir=cache_dir) == component_bytes


def fake_tool(tmp_path: Path, script: str) -> str:
    tool = tmp_path / "componentize-py"
    tool.write_text("#!/bin/sh\n" + script + "\n")
    tool.chmod(0o755)
    return str(tool)


def test_compiler_failure_is_sdk_build_error_with_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        build, "_componentize_py", lambda: fake_tool(tmp_path, "echo 'boom: no WitWorld' >&2; exit 3")
    )
    with pytest.raises(SdkBuildError, match="exit 3.*boom: no WitWorld"):
        build_component("x = 1\n", cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_compiler_timeout_is_sdk_build_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "_componentize_py", lambda: fake_tool(tmp_path, "exec sleep 30"))
    monkeypatch.setattr(build, "BUILD_TIMEOUT_S", 0.5)
    with pytest.raises(SdkBuildError, match="did not finish"):
        build_component("x = 1\n", cache_dir=tmp_path / "cache")


def test_publish_stores_four_artifacts_and_second_publish_is_a_cache_hit(
    component_bytes: bytes, precompiled_bytes: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    key = build_key(render_sdk(van_sales()))
    (cache / f"{key}.wasm").write_bytes(component_bytes)  # as the session build left it
    compiles: list[str] = []
    precompiles: list[int] = []
    monkeypatch.setattr(build, "_compile", lambda s: compiles.append(s) or component_bytes)
    monkeypatch.setattr(build, "precompile", lambda c: precompiles.append(len(c)) or precompiled_bytes)
    registry = ArtifactRegistry(backend=DirectoryBackend(tmp_path / "objects"))

    first = publish_sdk(
        registry=registry, tenant="acme", spec_bytes=SPEC_BYTES, desc=van_sales(), cache_dir=cache
    )
    second = publish_sdk(
        registry=registry, tenant="acme", spec_bytes=SPEC_BYTES, desc=van_sales(), cache_dir=cache
    )

    assert first == second and first.build_key == key and first.operations == 3
    assert compiles == [] and len(precompiles) == 1  # compiled by the session, precompiled once
    assert set(first.precompiled) == {ENGINE_KEY}
    refs = [first.spec, first.source, first.component, first.precompiled[ENGINE_KEY]]
    assert [r.kind for r in refs] == ["openapi-spec", "sdk-source", "sdk-component", "sdk-precompiled"]
    stored = sorted(
        p.relative_to(tmp_path / "objects").as_posix()
        for p in (tmp_path / "objects").rglob("*")
        if p.is_file()
    )
    assert stored == sorted(f"acme/{r.kind}/{r.sha256}" for r in refs)
    get = registry.get
    assert get(tenant="acme", kind="openapi-spec", sha256=first.spec.sha256) == SPEC_BYTES
    assert get(tenant="acme", kind="sdk-source", sha256=first.source.sha256).decode() == render_sdk(
        van_sales()
    )
    assert get(tenant="acme", kind="sdk-component", sha256=first.component.sha256) == component_bytes
    native = get(tenant="acme", kind="sdk-precompiled", sha256=first.precompiled[ENGINE_KEY].sha256)
    guest = instantiate(Component.deserialize(engine(), native), FakeHost())
    assert json.loads(guest.describe())["operations"] == ["get_order", "list", "health"]


def test_publish_refuses_spec_bytes_of_another_spec(tmp_path: Path) -> None:
    registry = ArtifactRegistry(backend=DirectoryBackend(tmp_path / "objects"))
    with pytest.raises(SdkBuildError, match="spec_sha256"):
        publish_sdk(registry=registry, tenant="acme", spec_bytes=b"{}", desc=van_sales(), cache_dir=tmp_path)
    assert not (tmp_path / "objects").exists() or not any((tmp_path / "objects").rglob("*"))
