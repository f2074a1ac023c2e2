"""Peer installation bookkeeping: a missing peer is reported, a changed pin rebuilds its venv."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from bench.peers import prepare_peers, venvs
from bench.peers.tools import with_password


def test_pgloader_not_on_path_with_installing_off_is_reported_not_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    ready, missing = prepare_peers(("pgloader",), install=False, log=Console(quiet=True))
    assert ready == []
    assert "not installed" in missing["pgloader"] and "apt-get install -y pgloader" in missing["pgloader"]


def test_a_venv_peer_without_its_venv_and_installing_off_is_reported_not_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(venvs, "VENVS_DIR", tmp_path / "venvs")
    ready, missing = prepare_peers(("dlt", "singer"), install=False, log=Console(quiet=True))
    assert ready == [] and sorted(missing) == ["dlt", "singer"]
    assert "no venv at bench/.venvs/dlt" in missing["dlt"]


def test_a_changed_requirement_file_makes_the_venv_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(venvs, "VENVS_DIR", tmp_path / "venvs")
    monkeypatch.setattr(venvs, "PEERS_DIR", tmp_path)
    (tmp_path / "toy.txt").write_text("toy==1.0\n")
    python = venvs.venv_python("toy")
    python.parent.mkdir(parents=True)
    python.write_text("")
    assert not venvs.venv_ready("toy")  # no stamp yet
    (python.parents[1] / venvs.STAMP).write_text(venvs._digest(tmp_path / "toy.txt") + "\n")
    assert venvs.venv_ready("toy")
    (tmp_path / "toy.txt").write_text("toy==1.1\n")
    assert not venvs.venv_ready("toy")


def test_peer_urls_get_a_dummy_password_only_when_they_have_none() -> None:
    assert (
        with_password("postgresql://postgres@127.0.0.1:5432/db")
        == "postgresql://postgres:bench@127.0.0.1:5432/db"
    )
    assert with_password("postgresql://u:pw@h/db") == "postgresql://u:pw@h/db"
