"""The gateway rig is shared with the gateway tests."""

from tests.console_api.gateway.conftest import rig  # noqa: F401 - fixture
