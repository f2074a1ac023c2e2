"""Breaking-change detection on pairs of API versions, one pair per kind of change."""

from __future__ import annotations

from typing import Any

import pytest

from sdkgen.diff import ApiDiff, ChangeKind, diff_apis, render_report
from sdkgen.model import ApiDescription, Operation, RequestBody
from tests.sdkgen.samples import op, param, van_sales

ORDER = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "total": {"type": "integer"},
        "customer": {"type": "object", "properties": {"name": {"type": "string"}}},
        "lines": {"type": "array", "items": {"type": "object", "properties": {"sku": {"type": "string"}}}},
    },
}


def api(*ops: Operation, **fields: Any) -> ApiDescription:
    fields.setdefault("servers", ("https://api.example.test",))
    return ApiDescription(
        title="T", version="1", openapi="3.1.0", spec_sha256="0" * 64, operations=ops, **fields
    )


def with_response(**props: Any) -> Operation:
    schema = {**ORDER, "properties": {**ORDER["properties"], **props}}
    return op("get_order", response_schema={k: v for k, v in schema.items()})


def drop(name: str) -> Operation:
    return op(
        "get_order",
        response_schema={**ORDER, "properties": {k: v for k, v in ORDER["properties"].items() if k != name}},
    )


def kinds(diff: ApiDiff) -> list[tuple[ChangeKind, bool]]:
    return [(c.kind, c.breaking) for c in diff.changes]


K = ChangeKind
BASE_OP = op(
    "get_order",
    params=(param("id", "path", required=True), param("limit", json_type="integer")),
    response_schema=ORDER,
)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (api(op("a"), op("b")), api(op("a")), [(K.OPERATION_REMOVED, True)]),
        (api(op("a")), api(op("a"), op("b")), [(K.OPERATION_ADDED, False)]),
        (
            api(op("a")),
            api(op("a", method="POST")),
            [(K.OPERATION_ADDED, False), (K.OPERATION_REMOVED, True)],
        ),
        (api(op("a")), api(op("a", path="/v2/a")), [(K.OPERATION_REMOVED, True), (K.OPERATION_ADDED, False)]),
        (api(op("a")), api(op("a", params=(param("x", required=True),))), [(K.PARAM_ADDED_REQUIRED, True)]),
        (api(op("a")), api(op("a", params=(param("x"),))), [(K.PARAM_ADDED_OPTIONAL, False)]),
        (api(op("a", params=(param("x"),))), api(op("a")), [(K.PARAM_REMOVED, True)]),
        (
            api(op("a", params=(param("x"),))),
            api(op("a", params=(param("x", json_type="integer"),))),
            [(K.PARAM_TYPE_CHANGED, True)],
        ),
        (
            api(op("a", params=(param("x", json_type="integer"),))),
            api(op("a", params=(param("x", json_type="number"),))),
            [(K.PARAM_TYPE_CHANGED, False)],
        ),
        (
            api(op("a", params=(param("x"),))),
            api(op("a", params=(param("x", json_type="any"),))),
            [(K.PARAM_TYPE_CHANGED, False)],
        ),
        (
            api(op("a", params=(param("x"),))),
            api(op("a", params=(param("x", required=True),))),
            [(K.PARAM_BECAME_REQUIRED, True)],
        ),
        (
            api(op("a", params=(param("x", required=True),))),
            api(op("a", params=(param("x"),))),
            [(K.PARAM_BECAME_OPTIONAL, False)],
        ),
        (
            api(op("a", params=(param("x"),))),
            api(op("a", params=(param("x", "header", name="X-X"),))),
            [(K.PARAM_MOVED, False)],
        ),
        (api(op("a")), api(op("a", body=RequestBody(required=True))), [(K.BODY_ADDED_REQUIRED, True)]),
        (api(op("a")), api(op("a", body=RequestBody(required=False))), [(K.BODY_ADDED_OPTIONAL, False)]),
        (api(op("a", body=RequestBody(required=False))), api(op("a")), [(K.BODY_REMOVED, True)]),
        (
            api(op("a", body=RequestBody(required=False))),
            api(op("a", body=RequestBody(required=True))),
            [(K.BODY_BECAME_REQUIRED, True)],
        ),
        (
            api(op("a", body=RequestBody(required=True))),
            api(op("a", body=RequestBody(required=False))),
            [(K.BODY_BECAME_OPTIONAL, False)],
        ),
        (
            api(op("a", body=RequestBody(required=True, schema={"type": "object"}))),
            api(op("a", body=RequestBody(required=True, schema={"type": "array"}))),
            [(K.BODY_TYPE_CHANGED, True)],
        ),
        (
            api(op("a", body=RequestBody(required=True, schema={"type": "object", "required": ["a"]}))),
            api(op("a", body=RequestBody(required=True, schema={"type": "object", "required": ["a", "b"]}))),
            [(K.BODY_FIELD_BECAME_REQUIRED, True)],
        ),
        (api(with_response()), api(drop("total")), [(K.RESPONSE_FIELD_REMOVED, True)]),
        (
            api(with_response()),
            api(with_response(extra={"type": "string"})),
            [(K.RESPONSE_FIELD_ADDED, False)],
        ),
        (
            api(with_response()),
            api(with_response(total={"type": "string"})),
            [(K.RESPONSE_TYPE_CHANGED, True)],
        ),
        (
            api(with_response()),
            api(with_response(total={"type": ["integer", "null"]})),
            [(K.RESPONSE_TYPE_CHANGED, True)],
        ),
        (
            api(with_response(total={"type": ["integer", "null"]})),
            api(with_response()),
            [(K.RESPONSE_TYPE_CHANGED, False)],
        ),
        (
            api(with_response()),
            api(with_response(customer={"type": "object", "properties": {}})),
            [(K.RESPONSE_FIELD_REMOVED, True)],
        ),
        (
            api(with_response()),
            api(
                with_response(lines={"type": "array", "items": {"type": "object", "properties": {"qty": {}}}})
            ),
            [(K.RESPONSE_FIELD_REMOVED, True), (K.RESPONSE_FIELD_ADDED, False)],
        ),
        (
            api(with_response()),
            api(op("get_order", response_schema={"type": "array"})),
            [(K.RESPONSE_TYPE_CHANGED, True)],
        ),
        (api(with_response()), api(op("get_order")), [(K.RESPONSE_REMOVED, True)]),
        (api(op("get_order")), api(with_response()), [(K.RESPONSE_ADDED, False)]),
        (api(op("a")), api(op("a", security=("oauth",))), [(K.AUTH_CHANGED, True)]),
        (
            api(op("a"), security_schemes={"key": {"type": "apiKey", "in": "header", "name": "X-Key"}}),
            api(op("a"), security_schemes={"key": {"type": "apiKey", "in": "query", "name": "key"}}),
            [(K.AUTH_CHANGED, True)],
        ),
        (
            api(op("a")),
            api(op("a"), security_schemes={"bearer": {"type": "http", "scheme": "bearer"}}),
            [(K.AUTH_CHANGED, True)],
        ),
        (api(op("a")), api(op("a"), servers=("https://eu.example.test",)), [(K.SERVER_CHANGED, False)]),
    ],
)
def test_each_kind_of_change(
    old: ApiDescription, new: ApiDescription, expected: list[tuple[ChangeKind, bool]]
) -> None:
    diff = diff_apis(old, new)
    assert sorted(kinds(diff)) == sorted(expected)
    assert diff.breaking == any(b for _, b in expected)


def test_identical_versions_have_no_changes() -> None:
    assert diff_apis(van_sales(), van_sales()) == ApiDiff()
    assert not diff_apis(van_sales(), van_sales()).breaking
    assert render_report(diff_apis(van_sales(), van_sales())) == "no changes\n"
    changed_prose = van_sales().model_copy(update={"version": "9", "spec_sha256": "1" * 64})
    assert diff_apis(van_sales(), changed_prose).changes == ()


def test_details_name_the_field_path() -> None:
    new = api(with_response(lines={"type": "array", "items": {"type": "object", "properties": {}}}))
    (change,) = diff_apis(api(with_response()), new).changes
    assert change.operation == "get_order" and change.detail == "lines[].sku removed"
    (change,) = diff_apis(api(with_response()), api(with_response(total={"type": "string"}))).changes
    assert change.detail == "total was integer, now string"


def test_report_lists_breaking_first_and_is_terminal_safe() -> None:
    old = api(BASE_OP, op("gone"))
    new = api(
        op("get_order", params=(param("id", "path", required=True),), response_schema=ORDER),
        op("fresh", path="/x\x1b[31m"),
        servers=(),
    )
    report = render_report(diff_apis(old, new))
    lines = report.splitlines()
    assert lines[0] == "2 breaking, 2 other change(s)"
    assert [line.split()[0] for line in lines[1:]] == ["BREAKING", "BREAKING", "ok", "ok"]
    assert "operation_removed" in lines[1] + lines[2] and "param_removed" in lines[1] + lines[2]
    assert "\x1b" not in report and "/x?[31m" in report


def nested(depth: int, leaf: dict[str, Any]) -> dict[str, Any]:
    schema = leaf
    for _ in range(depth):
        schema = {"type": "object", "properties": {"n": schema}}
    return schema


def test_response_comparison_is_bounded_in_depth() -> None:
    old_leaf = {"type": "object", "properties": {"x": {"type": "string"}}}
    new_leaf = {"type": "object", "properties": {}}
    shallow = diff_apis(
        api(op("a", response_schema=nested(3, old_leaf))), api(op("a", response_schema=nested(3, new_leaf)))
    )
    assert [c.detail for c in shallow.changes] == ["n.n.n.x removed"]
    deep = diff_apis(
        api(op("a", response_schema=nested(50, old_leaf))), api(op("a", response_schema=nested(50, new_leaf)))
    )
    assert deep.changes == ()
    top = diff_apis(
        api(op("a", response_schema={"type": "array", "items": old_leaf})),
        api(op("a", response_schema={"type": "array", "items": new_leaf})),
    )
    assert [c.detail for c in top.changes] == ["[].x removed"]
