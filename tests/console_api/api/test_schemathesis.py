"""TESTPLAN S8 (PR level): schemathesis over every operation of the app's own OpenAPI, in-process (ASGI).

No 5xx, and every response conforms to its documented schema, status code and content type.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from temporalio.testing import WorkflowEnvironment

from activities.metadata import make_engine, provision_tenant
from console_api.api import ApiSettings, Role, create_api_key, create_app

from .conftest import enroll, new_tenant

CHECKS = [
    schemathesis.checks.not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


def _no_network(host: str, port: int) -> list[str]:
    raise OSError(f"the fuzz test does not reach {host}:{port}")


@pytest.fixture
def fuzz_target(
    tmp_path: Path, env: WorkflowEnvironment
) -> Iterator[tuple[schemathesis.BaseSchema, object, dict]]:
    address = env.client.service_client.config.target_host
    settings_ = ApiSettings(home=tmp_path, temporal={"address": address, "namespace": env.client.namespace})
    engine = make_engine(settings_.metadata_url)
    tenant = new_tenant()
    # Enterprise: its request rate is above what the fuzzer sends, so 429s do not hide the routes.
    provision_tenant(engine, tenant_id=tenant, name=tenant, tier="enterprise")
    enroll(engine, tenant)
    # The Temporal client connects lazily inside the one test client's event loop.
    app = create_app(settings_, engine=engine)
    # Generated spec URLs must never leave the box: no name resolves and no address is dialled.
    app.state.ctx.spec_resolver = _no_network
    app.state.ctx.spec_dial_guard = _no_network
    key = create_api_key(
        engine, tenant_id=tenant, name="fuzz", role=Role.ADMIN, pepper=app.state.ctx.pepper
    ).key
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    with asgi.get_client(app) as client:
        yield schema, client, {"Authorization": f"Bearer {key}"}
    engine.dispose()


def test_api_conforms_to_its_openapi(fuzz_target) -> None:
    schema, client, headers = fuzz_target
    covered, statuses = 0, Counter()
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=st.one_of(operation.as_strategy(mode) for mode in GenerationMode))
        @settings(
            max_examples=20,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def conforms(case: schemathesis.Case) -> None:
            response = case.call_and_validate(session=client, headers=headers, checks=CHECKS)
            statuses[(case.operation.label, response.status_code)] += 1

        conforms()
        covered += 1
    assert covered == 59  # operations_covered / operations_total = 100 %
    print(sorted(statuses.items()))
    # The key is accepted: every operation was reached past authentication at least once.
    reached = {label for label, status in statuses if status != 401}
    assert len(reached) == covered
