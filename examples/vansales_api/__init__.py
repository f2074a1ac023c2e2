"""A small van-sales REST API (FastAPI), the user API of the Mode 2 patterns 3.1.2 and 3.3.3."""

from examples.vansales_api.app import API_KEY_HEADER, create_app
from examples.vansales_api.store import VanSalesStore

__all__ = ["create_app", "VanSalesStore", "API_KEY_HEADER"]
