"""load_spec: formats, versions, resolution, limits, pointers."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any

import pytest
import yaml

from activities.errors import SpecInvalidError
from sdkgen import spec as spec_module
from sdkgen.spec import RECURSIVE, SpecLimits, load_spec


def doc(version: str = "3.0.3", **extra: Any) -> dict[str, Any]:
    ok = {
        "200": {
            "description": "ok",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Order"}}},
        }
    }
    base: dict[str, Any] = {
        "openapi": version,
        "info": {"title": "Orders", "version": "2.1"},
        "paths": {
            "/orders": {"get": {"responses": ok}},
            "/orders/{id}": {
                "get": {
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": ok,
                }
            },
        },
        "components": {"schemas": {"Order": {"type": "object", "properties": {"id": {"type": "string"}}}}},
    }
    base.update(extra)
    return base


def test_load_json_30() -> None:
    data = json.dumps(doc()).encode()
    spec = load_spec(data)
    assert (spec.openapi, spec.title, spec.version) == ("3.0.3", "Orders", "2.1")
    assert spec.sha256 == hashlib.sha256(data).hexdigest()
    schema = spec.document["paths"]["/orders"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]
    assert schema == {"type": "object", "properties": {"id": {"type": "string"}}}
    # One referenced object, shared by its uses: resolution never grows the document.
    other = spec.document["paths"]["/orders/{id}"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]
    assert other is schema


def test_load_yaml_31_equals_json() -> None:
    d = doc("3.1.0")
    from_yaml = load_spec(yaml.safe_dump(d).encode())
    from_json = load_spec(json.dumps(d).encode())
    assert from_yaml.openapi == "3.1.0"
    assert from_yaml.document == from_json.document


def test_yaml_keys_and_dates_stay_json_strings() -> None:
    text = (
        'openapi: "3.0.3"\ninfo: {title: t, version: 2024-01-01}\n'
        "paths:\n  /a:\n    get:\n      responses:\n        200: {description: ok}\n"
    )
    spec = load_spec(text.encode())
    assert spec.version == "2024-01-01"
    assert list(spec.document["paths"]["/a"]["get"]["responses"]) == ["200"]


def _has_cycle(root: Any) -> bool:
    stack: list[tuple[Any, set[int]]] = [(root, set())]
    while stack:
        obj, path = stack.pop()
        if isinstance(obj, dict | list):
            if id(obj) in path:
                return True
            children = obj.values() if isinstance(obj, dict) else obj
            stack.extend((child, path | {id(obj)}) for child in children if isinstance(child, dict | list))
    return False


def test_recursive_refs_become_markers() -> None:
    d = doc()
    d["components"]["schemas"]["Order"]["properties"]["parent"] = {"$ref": "#/components/schemas/Order"}
    d["components"]["schemas"]["A"] = {"properties": {"b": {"$ref": "#/components/schemas/B"}}}
    d["components"]["schemas"]["B"] = {"properties": {"a": {"$ref": "#/components/schemas/A"}}}
    spec = load_spec(json.dumps(d).encode())
    assert not _has_cycle(spec.document)
    order = spec.document["components"]["schemas"]["Order"]
    assert order["properties"]["parent"] == {"$ref": "#/components/schemas/Order", RECURSIVE: True}
    a = spec.document["components"]["schemas"]["A"]
    assert a["properties"]["b"]["properties"]["a"] == {"$ref": "#/components/schemas/A", RECURSIVE: True}


def test_ref_laughs_stay_linear() -> None:
    schemas: dict[str, Any] = {"S0": {"type": "string"}, "Order": {"type": "object"}}
    for i in range(1, 60):
        schemas[f"S{i}"] = {"properties": {k: {"$ref": f"#/components/schemas/S{i - 1}"} for k in "ab"}}
    spec = load_spec(json.dumps({**doc(), "components": {"schemas": schemas}}).encode())
    top = spec.document["components"]["schemas"]["S59"]
    assert top["properties"]["a"] is top["properties"]["b"]


@pytest.mark.parametrize(
    "ref", ["file:///etc/passwd", "http://169.254.169.254/x", "../../x.yaml", "other.json#/A"]
)
def test_external_ref_refused_with_pointer(ref: str) -> None:
    d = doc()
    d["paths"]["/orders"]["get"]["parameters"] = [{"$ref": ref}]
    with pytest.raises(SpecInvalidError) as info:
        load_spec(json.dumps(d).encode())
    assert info.value.fields["pointer"] == "/paths/~1orders/get/parameters/0/$ref"
    assert "external reference" in info.value.message


def test_validation_error_has_pointer() -> None:
    d = doc()
    d["paths"]["/orders"]["get"]["responses"]["200"] = {"content": {}}  # description is required
    with pytest.raises(SpecInvalidError) as info:
        load_spec(json.dumps(d).encode())
    assert info.value.fields["pointer"].startswith("/paths/~1orders/get/responses")


def test_strict_mode_runs_keyword_checks_with_pointer() -> None:
    d = doc()
    d["paths"]["/orders/{id}"]["get"]["parameters"] = []
    data = json.dumps(d).encode()
    load_spec(data)  # structurally valid: the default mode leaves this to describe()
    with pytest.raises(SpecInvalidError) as info:
        load_spec(data, limits=SpecLimits(strict=True))
    assert "Path parameter 'id'" in info.value.message
    assert info.value.fields["pointer"].startswith("/paths/~1orders~1{id}")


def test_swagger_2_refused_with_advice() -> None:
    with pytest.raises(SpecInvalidError, match="swagger2openapi"):
        load_spec(b'{"swagger": "2.0", "info": {"title": "t", "version": "1"}, "paths": {}}')


@pytest.mark.parametrize(
    ("limits", "text"),
    [
        (SpecLimits(max_bytes=100), "more than the limit of 100"),
        (SpecLimits(max_paths=1), "2 paths, more than 1"),
        (SpecLimits(max_nodes=20), "more than 20 values"),
        (SpecLimits(max_depth=5), "deeper than 5"),
    ],
)
def test_limits(limits: SpecLimits, text: str) -> None:
    with pytest.raises(SpecInvalidError, match=text):
        load_spec(json.dumps(doc()).encode(), limits=limits)


def test_deadline_stops_the_load() -> None:
    big = {**doc(), "x-pad": [{"k": i, "v": [str(i)] * 5} for i in range(40_000)]}
    with pytest.raises(SpecInvalidError, match="took longer than"):
        load_spec(yaml.safe_dump(big).encode(), limits=SpecLimits(max_seconds=0.2))
    # The abandoned worker is interrupted, not left running to completion (PyYAML would take seconds).
    for _ in range(100):
        if not any(t.name == "sdkgen-load-spec" for t in threading.enumerate()):
            break
        time.sleep(0.05)
    assert not any(t.name == "sdkgen-load-spec" for t in threading.enumerate())


def test_unexpected_library_error_is_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(document: Any) -> Any:
        raise KeyError("boom")

    monkeypatch.setattr(spec_module, "resolve_refs", broken)
    with pytest.raises(SpecInvalidError, match=r"could not be processed \(KeyError\)"):
        load_spec(json.dumps(doc()).encode())
