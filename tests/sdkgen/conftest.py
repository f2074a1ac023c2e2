"""Fixtures shared by the sdkgen tests."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest


def shared_build_cache() -> Path:
    """One componentize-py build cache for every test run on this machine.

    Entries are named by ``build_key`` (source + WIT + componentize-py version), so a cached
    component is exactly what a rebuild of the same inputs would be allowed to publish; the
    cache only saves the ~10 s a build costs on this machine.
    """
    path = Path(tempfile.gettempdir()) / "vsc-sdk-build-cache"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def sdk_build_cache() -> Path:
    """The shared build cache as a fixture."""
    return shared_build_cache()
