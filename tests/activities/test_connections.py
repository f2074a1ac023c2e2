from __future__ import annotations

import json
from pathlib import Path

import pytest

from activities.connections import ConnectionProfile, ConnectionRegistry, masked_url
from activities.errors import ConnectionNotFoundError, InvalidInputError


def test_registry_loads_file_and_masks_password(tmp_path: Path) -> None:
    path = tmp_path / "connections.json"
    path.write_text(
        json.dumps(
            {
                "connections": [
                    {"name": "erp", "kind": "postgresql", "url": "postgresql://u:hunter2@127.0.0.1:5432/erp"},
                    {
                        "name": "shop",
                        "kind": "mysql",
                        "url": "mysql://root@127.0.0.1:3306/shop",
                        "write": True,
                    },
                ]
            }
        )
    )
    registry = ConnectionRegistry.from_file(path)
    assert registry.names() == ["erp", "shop"]
    erp = registry.get("erp")
    assert erp.write is False and erp.location == "local"
    assert "hunter2" not in erp.masked_url() and "***" in erp.masked_url()
    assert "hunter2" not in repr(erp)


def test_unknown_connection_is_named() -> None:
    registry = ConnectionRegistry.from_list([])
    with pytest.raises(ConnectionNotFoundError, match="'nope'") as info:
        registry.get("nope")
    assert info.value.fields == {"connection": "nope"}


def test_duplicate_names_are_refused() -> None:
    profile = ConnectionProfile(name="a", kind="sqlite", url="sqlite:////tmp/a.db")
    with pytest.raises(InvalidInputError, match="'a'"):
        ConnectionRegistry([profile, profile])


def test_masked_url_hides_unparsable_urls() -> None:
    assert masked_url("not a url with secret") == "<unparsable url>"


def test_registry_file_errors_are_terminal_and_never_echo_secrets(tmp_path) -> None:
    import json as _json

    from activities.errors import InvalidInputError, Terminal

    path = tmp_path / "conns.json"
    path.write_text(
        _json.dumps({"connections": [{"name": "erp", "kind": "oracle", "url": "oracle://u:hunter2@h/db"}]})
    )
    with pytest.raises(InvalidInputError) as info:
        ConnectionRegistry.from_file(path)
    assert isinstance(info.value, Terminal)
    assert "'erp'" in info.value.message and "kind" in info.value.message
    assert "hunter2" not in info.value.message
    path.write_text("{not json")
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        ConnectionRegistry.from_file(path)


def test_mariadb_is_accepted_as_mysql() -> None:
    registry = ConnectionRegistry.from_list(
        [{"name": "m", "kind": "mariadb", "url": "mysql://root@127.0.0.1/x"}]
    )
    assert registry.get("m").kind == "mysql"
