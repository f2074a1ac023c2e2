"""The whole pipeline on public specs: validate -> operations -> render -> compile.

Every vendored spec is rendered and byte-compiled; a dozen of them (GitHub's 1,223 operations
among them) are also compiled into WebAssembly components by componentize-py, which imports the
generated module inside the guest while it snapshots it, so a module that cannot load fails here.
TESTPLAN S7's accepted hostile specs go through render + py_compile as well.
"""

from __future__ import annotations

import io
import keyword
import re
import tokenize
from pathlib import Path

import pytest

from sdkgen.build import build_component
from sdkgen.operations import describe
from sdkgen.render import render_sdk
from sdkgen.spec import load_spec
from tests.sdkgen.specs import accepted_hostile_specs, read_spec, real_specs

COMPILED = (
    "github-api.github.com.json.gz",
    "stripe.json.gz",
    "kubernetes.json.gz",
    "slack.json.gz",
    "codat-accounting.json.gz",
    "vercel.json.gz",
    "spotify.json.gz",
    "discourse.json.gz",
    "adyen-checkout.json.gz",
    "circleci.json.gz",
    "listennotes.yaml",
    "xkcd.json.gz",
)
_DEF = re.compile(r"^    def ([A-Za-z_][A-Za-z0-9_]*)\(", re.MULTILINE)


def _render(path: Path) -> tuple[str, list[str]]:
    desc = describe(load_spec(read_spec(path)))
    source = render_sdk(desc)
    compile(source, path.name, "exec")  # py_compile without writing a .pyc
    return source, [op.op_id for op in desc.operations]


def test_a_dozen_real_specs_are_compiled() -> None:
    names = {p.name for p in real_specs()}
    assert len(COMPILED) >= 12 and set(COMPILED) <= names


@pytest.mark.parametrize("path", real_specs(), ids=lambda p: p.name)
def test_real_spec_renders_a_module_with_one_method_per_operation(path: Path) -> None:
    source, op_ids = _render(path)
    defined = set(_DEF.findall(source))
    assert set(op_ids) <= defined, sorted(set(op_ids) - defined)[:5]
    assert all(name.isidentifier() and not keyword.iskeyword(name) for name in op_ids)


@pytest.mark.parametrize("name", COMPILED)
def test_real_spec_compiles_to_a_component(name: str, sdk_build_cache: Path) -> None:
    source, op_ids = _render(next(p for p in real_specs() if p.name == name))
    component = build_component(source, cache_dir=sdk_build_cache)
    assert component[:8] == b"\0asm\x0d\x00\x01\x00"  # a component (layer 1), not a core module
    for op_id in op_ids[:50]:  # the operation table travels inside the component as literals
        assert op_id.encode() in component


@pytest.mark.parametrize("path", accepted_hostile_specs(), ids=lambda p: p.name)
def test_accepted_hostile_spec_renders_safely(path: Path) -> None:
    source, op_ids = _render(path)
    # Spec text may reach the module only inside string literals and comments: every other token
    # is one the template wrote or an identifier the naming rules produced.
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in (tokenize.STRING, tokenize.COMMENT):
            continue
        for needle in ("{{", "{%", '"""', "os.system", "__import__"):
            assert needle not in tok.string, (tok, path.name)
        if tok.type == tokenize.NAME:
            assert tok.string.isascii()
    assert all(name.isidentifier() and not keyword.iskeyword(name) for name in op_ids)
