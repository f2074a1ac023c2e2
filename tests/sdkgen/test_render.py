"""The SDK renderer: hostile names stay literals or comments, identifiers are checked, the module runs."""

from __future__ import annotations

import ast
import io
import json
import py_compile
import tokenize
from pathlib import Path

import jinja2
import pytest

from activities.errors import SdkBuildError
from sdkgen.model import ApiDescription, RequestBody
from sdkgen.render import environment, render_sdk
from tests.sdkgen.samples import load_module, op, param, van_sales

EVIL = ["{{ 7*7 }}", '"""', "\n import os", "{% raw %}", "\\", "\u2028import sys", "'''", "# x", "\r\n"]


def hostile() -> ApiDescription:
    text = " ".join(EVIL)
    return ApiDescription(
        title=f'Evil """ {text}',
        version=text,
        openapi="3.1.0",
        spec_sha256="0" * 64,
        operations=(
            op(
                "get_thing",
                path="/things/{" + text + "}",
                summary=text,
                params=(
                    param("thing", "path", required=True, name=text),
                    param("q", name='"""; import os; """'),
                    param("h", "header", name="{% raw %}X{{ 7*7 }}"),
                ),
            ),
            op(
                "create",
                method="POST",
                summary='""" + __import__("os").system("id") + """',
                body=RequestBody(required=False, schema={"type": "object", "description": text}),
            ),
        ),
    )


def test_hostile_text_ends_up_only_in_literals_and_comments(tmp_path: Path) -> None:
    source = render_sdk(hostile())
    path = tmp_path / "vsc_sdk.py"
    path.write_text(source, encoding="utf-8")
    py_compile.compile(str(path), doraise=True)
    tree = ast.parse(source)
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom) for a in n.names}
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= {"json", "re", "urllib.parse", "Any", "annotations", "wit_world", "Err", "host"}
    assert modules <= {"__future__", "typing", "componentize_py_types", "wit_world.imports"}
    names = {
        t.string for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type == tokenize.NAME
    }
    assert not names & {"os", "sys", "system", "__import__", "raw", "id"}
    assert "49" not in source  # no template expression was evaluated
    # the spec's strings survive exactly, as data
    module = load_module(source)
    assert module.TITLE == hostile().title
    assert module.OPERATIONS["get_thing"]["params"][0]["name"] == " ".join(EVIL)
    assert module.OPERATIONS["get_thing"]["summary"] == " ".join(EVIL)
    assert module.Api.get_thing.__doc__.startswith("{{ 7*7 }} ''' import os {% raw %} / import sys")


def test_output_is_deterministic_and_ascii_outside_prose() -> None:
    assert render_sdk(van_sales()) == render_sdk(van_sales())
    assert render_sdk(hostile()).isascii()


@pytest.mark.parametrize(
    "bad", ["class", "None", "import os", "a-b", "1st", "", "__init__", "_sdk_invoke", "ﬁle", "naïve"]
)
def test_unsafe_identifiers_are_refused(bad: str) -> None:
    with pytest.raises(SdkBuildError):
        render_sdk(van_sales().model_copy(update={"operations": (op(bad),)}))
    with pytest.raises(SdkBuildError):
        render_sdk(van_sales().model_copy(update={"operations": (op("ok", params=(param(bad),)),)}))


def test_duplicate_identifiers_are_refused() -> None:
    with pytest.raises(SdkBuildError, match="same id"):
        render_sdk(van_sales().model_copy(update={"operations": (op("a"), op("a", path="/b"))}))
    with pytest.raises(SdkBuildError, match="same identifier"):
        render_sdk(van_sales().model_copy(update={"operations": (op("a", params=(param("x"), param("x"))),)}))


def test_strict_undefined_and_unfiltered_output_fail() -> None:
    env = environment()
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("x = {{ missing|py }}").render()
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("x = {{ missing }}").render()
    with pytest.raises(SdkBuildError, match="unfiltered"):
        env.from_string("x = {{ value }}").render(value="os.system('id')")
    assert env.from_string("x = {{ value|py }}").render(value="a'b") == 'x = "a\'b"'


def test_names_shadowing_builtins_and_module_globals_still_work() -> None:
    ops = tuple(
        op(n, params=(param("json"), param("str"), param("base_url")))
        for n in ("list", "json", "host", "prepare_request", "WitWorld", "OPERATIONS", "str")
    )
    module = load_module(render_sdk(van_sales().model_copy(update={"operations": ops})))
    assert list(module.OPERATIONS) == [
        "list",
        "json",
        "host",
        "prepare_request",
        "WitWorld",
        "OPERATIONS",
        "str",
    ]
    prepared = module.prepare_request("list", {"base_url": "http://h", "args": {"json": "a", "str": "b"}})
    assert prepared["url"] == "http://h/list?json=a&str=b"
    assert json.loads(module.WitWorld().describe())["operations"][0] == "list"
    with pytest.raises(module.SdkError) as caught:  # the typed face checks too, then finds no host here
        module.Api.list("http://h", json="a", base_url="c")
    assert caught.value.kind == "host_refused"


def test_signature_puts_required_first_and_renames_clashing_args() -> None:
    source = render_sdk(van_sales())
    tree = ast.parse(source)
    api = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Api")
    funcs = {f.name: f for f in api.body if isinstance(f, ast.FunctionDef)}
    get_order = funcs["get_order"].args
    assert [a.arg for a in get_order.posonlyargs] == ["base_url"]
    assert [a.arg for a in get_order.kwonlyargs] == ["order_id", "status", "limit", "x_trace", "body"]
    assert get_order.kw_defaults[0] is None and all(d is not None for d in get_order.kw_defaults[1:])
    assert [a.arg for a in funcs["list"].args.kwonlyargs] == ["body", "dry_run"]  # required body first
    assert not funcs["health"].args.kwonlyargs
    clash = op("c", params=(param("body"), param("base_url")), body=RequestBody(required=True), method="POST")
    tree = ast.parse(render_sdk(van_sales().model_copy(update={"operations": (clash,)})))
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "c")
    assert [a.arg for a in fn.args.posonlyargs] == ["base_url_"]
    assert [a.arg for a in fn.args.kwonlyargs] == ["body_", "body", "base_url"]


def prepare(args: dict[str, object], operation: str = "get_order", **extra: object) -> dict[str, object]:
    module = load_module(render_sdk(van_sales()))
    return module.prepare_request(
        operation, {"base_url": "https://api.example.test/v1/", "args": args, **extra}
    )


def test_prepare_request_builds_url_query_headers_body() -> None:
    got = prepare({"order_id": "a/b ..", "status": ["open", "paid & due"], "limit": 5, "x_trace": "t-1"})
    assert got == {
        "method": "GET",
        "url": "https://api.example.test/v1/orders/a%2Fb%20../lines?status=open&status=paid%20%26%20due&limit=5",
        "headers": [("X-Trace", "t-1"), ("accept", "application/json")],
        "body": None,
    }
    assert prepare({"order_id": ".."})["url"] == "https://api.example.test/v1/orders/%2E%2E/lines"
    assert prepare({"order_id": "x", "limit": None})["url"].endswith("/orders/x/lines")
    posted = prepare({"dry_run": True}, "list", body={"customer": "Zoë"})
    assert posted["url"] == "https://api.example.test/v1/orders?dry_run=true"
    assert posted["body"] == '{"customer":"Zoë"}'.encode()
    assert ("content-type", "application/json") in posted["headers"]


@pytest.mark.parametrize(
    ("operation", "args", "extra", "message"),
    [
        ("get_order", {}, {}, "needs the argument 'order_id'"),
        ("get_order", {"order_id": "1", "nope": 1}, {}, "takes no arguments"),
        ("get_order", {"order_id": "1", "limit": True}, {}, "JSON integer, not bool"),
        ("get_order", {"order_id": "1", "limit": 1.5}, {}, "JSON integer, not float"),
        ("get_order", {"order_id": "1", "status": "open"}, {}, "JSON array"),
        ("get_order", {"order_id": "1", "x_trace": "a\r\nX-Evil: 1"}, {}, "line breaks"),
        ("get_order", {"order_id": "1"}, {"body": {}}, "takes no body"),
        ("get_order", {"order_id": "1"}, {"extra": 1}, "unknown request fields"),
        ("list", {}, {}, "needs a body"),
        ("list", {}, {"body": [1]}, "JSON object"),
    ],
)
def test_prepare_request_refuses_bad_arguments(
    operation: str, args: dict[str, object], extra: dict[str, object], message: str
) -> None:
    module = load_module(render_sdk(van_sales()))
    with pytest.raises(module.SdkError, match=message) as caught:
        module.prepare_request(operation, {"base_url": "http://h", "args": args, **extra})
    assert caught.value.kind == "invalid_argument"
    with pytest.raises(module.SdkError) as caught:
        module.prepare_request("drop_tables", {"base_url": "http://h"})
    assert caught.value.kind == "unknown_operation"


def test_decode_response_json_text_and_garbage() -> None:
    module = load_module(render_sdk(van_sales()))
    got = module.decode_response(
        200, [("Content-Type", "application/problem+json"), ("X-A", "1"), ("x-a", "2")], b'{"a": [1]}'
    )
    assert got == {
        "status": 200,
        "headers": {"content-type": "application/problem+json", "x-a": "1, 2"},
        "body": {"a": [1]},
        "text": None,
    }
    assert (
        module.decode_response(503, [("content-type", "text/html")], b"<h1>down</h1>")["text"]
        == "<h1>down</h1>"
    )
    with pytest.raises(module.SdkError) as caught:
        module.decode_response(200, [("content-type", "application/json")], b"<html>")
    assert caught.value.kind == "bad_response"


def test_every_filter_honours_strict_undefined() -> None:
    env = environment()
    for name in ("py", "ident", "text", "pytype"):
        with pytest.raises(jinja2.UndefinedError):
            env.from_string("{{ missing|" + name + " }}").render()


def test_json_depth_is_bounded_before_parsing() -> None:
    module = load_module(render_sdk(van_sales()))
    assert module._loads("[" * 256 + "]" * 256) is not None
    with pytest.raises(ValueError, match="deeper than 256"):
        module._loads("[" * 257 + "]" * 257)
    assert module._loads('{"a": "' + "[" * 1000 + '"}') == {"a": "[" * 1000}
    assert module._loads(b'{"q": "\\"[{"}') == {"q": '"[{'}
