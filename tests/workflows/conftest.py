"""Fixtures shared by the workflow tests."""

from __future__ import annotations

import pytest

from tests.sdkgen.conftest import shared_build_cache
from tests.workflows.api_env import SdkBuild


@pytest.fixture(scope="session")
def sdk() -> SdkBuild:
    """The example API's SDK; the machine-wide build cache compiles it once for every suite."""
    return SdkBuild.make(shared_build_cache())
