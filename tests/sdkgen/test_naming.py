"""sdkgen.naming: any string becomes a safe, readable, unique identifier."""

from __future__ import annotations

import keyword

import pytest

from sdkgen.naming import MAX_LENGTH, NameScope, identifier, is_safe_identifier


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("getUserById", "get_user_by_id"),
        ("HTTPServerList", "http_server_list"),
        ("X-Request-ID", "x_request_id"),
        ("page[size]", "page_size"),
        ("class", "class_"),
        ("match", "match_"),
        ("type", "type_"),
        ("id", "id_"),
        ("None", "none"),
        ("2fa", "n_2fa"),
        ("", "value"),
        ("日本語", "value"),
        ("ünïcödé", "unicode"),
        ("{{ config }}", "config"),
        ('"""\n import os', "import_os"),
    ],
)
def test_identifier(text: str, expected: str) -> None:
    assert identifier(text) == expected
    assert is_safe_identifier(expected)


def test_long_names_are_cut() -> None:
    assert len(identifier("a" * 500)) == MAX_LENGTH


def test_reserved_names_get_suffix() -> None:
    assert identifier("body", reserved={"body"}) == "body_"


def test_scope_makes_names_unique() -> None:
    scope = NameScope()
    assert [scope.claim(t) for t in ["getUser", "get_user", "GetUser", "get-user"]] == [
        "get_user",
        "get_user_2",
        "get_user_3",
        "get_user_4",
    ]
    assert "get_user_3" in scope


@pytest.mark.parametrize(
    "text", [*keyword.kwlist, *keyword.softkwlist, "\x00", "\u202e", "$", "__init__", "1"]
)
def test_every_output_is_safe(text: str) -> None:
    name = identifier(text)
    assert name.isidentifier() and not keyword.iskeyword(name) and not keyword.issoftkeyword(name)
