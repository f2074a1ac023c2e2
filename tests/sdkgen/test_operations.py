"""describe(): operations, parameters, bodies, responses, refusals."""

from __future__ import annotations

import json
from typing import Any

from sdkgen.model import ParamLocation
from sdkgen.operations import describe
from sdkgen.spec import load_spec
from tests.sdkgen.safety import assert_safe_description
from tests.sdkgen.specs import HOSTILE, read_spec


def ok(schema: Any) -> dict[str, Any]:
    return {"200": {"description": "ok", "content": {"application/json": {"schema": schema}}}}


def api(paths: dict[str, Any], **extra: Any) -> Any:
    d = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": paths, **extra}
    return describe(load_spec(json.dumps(d).encode()))


def test_param_merging_op_overrides_path_level() -> None:
    desc = describe(load_spec(read_spec(HOSTILE / "accept-name-collisions.yaml")))
    op = desc.operation("get_user")
    by_name = {p.name: p for p in op.params}
    assert by_name["verbose"].required and by_name["verbose"].json_type == "string"  # op-level wins
    assert by_name["userId"].location is ParamLocation.PATH and by_name["userId"].json_type == "integer"
    assert [p.ident for p in op.params] == ["user_id", "verbose", "user_id_2", "user_id_3"]
    # path-level params reach the other methods too
    assert [p.name for p in desc.operation("get_user_2").params] == ["userId", "verbose"]
    assert [o.op_id for o in desc.operations] == [
        "get_user",
        "get_user_2",
        "get_user_3",
        "get_user_4",
        "get_users",
        "post_users",
    ]


def test_refusals_have_reasons() -> None:
    desc = describe(load_spec(read_spec(HOSTILE / "accept-refusals.yaml")))
    reasons = {(r.method, r.path): r.reason for r in desc.refused}
    assert reasons == {
        ("GET", "/cookie-required"): "required cookie parameter 'session' is not supported",
        (
            "POST",
            "/form",
        ): "the required request body is not JSON (content types: application/x-www-form-urlencoded)",
        ("GET", "/missing/{id}"): "path parameter 'id' of the template is not declared",
        ("GET", "/extra"): "path parameter 'id' is not in the path template",
    }
    assert desc.operation("get_cookie_optional").params == ()
    assert desc.operation("post_form_optional").body is None


def test_body_response_security_and_read_only() -> None:
    desc = api(
        {
            "/orders": {
                "get": {"responses": {"404": {"description": "no"}, **ok({"type": "array"})}},
                "post": {
                    "operationId": "createOrder",
                    "security": [{"oauth": ["write"]}],
                    "parameters": [
                        {"name": "Authorization", "in": "header", "schema": {"type": "string"}},
                        {"name": "body", "in": "query", "schema": {"type": ["integer", "null"]}},
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/vnd.order+json; charset=utf-8": {"schema": {"type": "object"}}
                        },
                    },
                    "responses": {"201": {"description": "made", "content": {"text/plain": {}}}},
                },
            }
        },
        security=[{"key": []}],
        components={"securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "X-Key"}}},
        servers=[{"url": "https://api.example.com/v1"}],
    )
    get, post = desc.operation("get_orders"), desc.operation("create_order")
    assert get.read_only and not post.read_only
    assert get.response_schema == {"type": "array"} and post.response_schema is None
    assert get.security == ("key",) and post.security == ("oauth",)
    assert (
        post.body is not None
        and post.body.required
        and post.body.content_type == "application/vnd.order+json"
    )
    assert [(p.name, p.ident, p.json_type) for p in post.params] == [("body", "body_", "integer")]
    assert desc.servers == ("https://api.example.com/v1",)
    assert desc.security_schemes["key"]["name"] == "X-Key"


def test_recursive_and_deep_schemas_are_bounded() -> None:
    desc = describe(load_spec(read_spec(HOSTILE / "accept-self-recursive-schema.json")))
    text = json.dumps(desc.operations[0].response_schema)
    assert '"x-recursive": "#/components/schemas/Node"' in text and "$ref" not in text
    assert_safe_description(desc)
    laughs = describe(load_spec(read_spec(HOSTILE / "accept-ref-laughs.json")))
    assert len(json.dumps(laughs.operations[0].response_schema)) < 200_000


def test_every_method_is_accounted_for() -> None:
    paths = {
        "/a": {
            m: {"responses": {"200": {"description": "ok"}}}
            for m in ["get", "put", "post", "delete", "options", "head", "patch", "trace"]
        },
        "/b": {
            "get": {
                "parameters": [{"name": "s", "in": "cookie", "required": True, "schema": {}}],
                "responses": {"200": {"description": "ok"}},
            }
        },
    }
    desc = api(paths)
    assert len(desc.operations) == 8 and len(desc.refused) == 1
    assert {o.method for o in desc.operations} == {
        "GET",
        "PUT",
        "POST",
        "DELETE",
        "OPTIONS",
        "HEAD",
        "PATCH",
        "TRACE",
    }
