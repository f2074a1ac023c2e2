"""Fixtures shared by the control-plane tests."""

from tests.console_api.api.conftest import make_api, sdk_cache  # noqa: F401 - an API on a fresh metadata store
from tests.console_api.gateway.conftest import rig  # noqa: F401 - the real gateway rig
