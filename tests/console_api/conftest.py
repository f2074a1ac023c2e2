"""Fixtures shared by the control-plane tests."""

from tests.console_api.gateway.conftest import rig  # noqa: F401 - the real gateway rig
