"""The console REST API (FastAPI): tenants, API keys, connections, agents, definitions, executions, audit."""

from console_api.api.app import BodyLimit, create_app
from console_api.api.bootstrap import BootstrapResult, bootstrap_tenant, create_api_key
from console_api.api.context import ApiContext, build_context, load_pepper
from console_api.api.keys import Role, hash_key, key_matches, new_key, parse_key
from console_api.api.problems import PROBLEM_JSON, Problem
from console_api.api.settings import ApiSettings

__all__ = [
    # Application
    "create_app",
    "ApiSettings",
    "ApiContext",
    "build_context",
    "BodyLimit",
    # Errors
    "Problem",
    "PROBLEM_JSON",
    # Keys and roles
    "Role",
    "new_key",
    "parse_key",
    "hash_key",
    "key_matches",
    "load_pepper",
    # Bootstrap
    "BootstrapResult",
    "bootstrap_tenant",
    "create_api_key",
]
