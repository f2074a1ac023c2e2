"""The agent's spec fetch (TESTPLAN S6 applied to spec URLs): its own network yes, link-local never.

A local API's spec URL is typed by a tenant user and fetched by the agent inside the customer
network, so the URL must not turn the agent into a reader of the cloud metadata service (or any
other link-local, reserved or multicast address), by IP literal or by a name resolving there.
"""

from __future__ import annotations

import base64

import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from temporalio.exceptions import ApplicationError

from activities.api_specs import fetch_document, fetch_spec, local_spec_transport
from activities.errors import EgressDeniedError
from infra.loopback import serve
from workflows.fetch_spec import FetchSpecInput

DOC = '{"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {}}'


def _doc_app() -> FastAPI:
    app = FastAPI(openapi_url=None)

    @app.get("/spec.json", response_class=PlainTextResponse)
    def spec() -> str:
        return DOC

    return app


def test_the_agent_fetches_a_spec_from_its_own_network() -> None:
    with serve(_doc_app()) as origin:
        result = fetch_spec(FetchSpecInput(url=f"{origin}/spec.json", timeout_seconds=5))
    assert base64.b64decode(result.data_b64).decode() == DOC


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/spec.json",
        "http://[::ffff:169.254.169.254]/spec.json",
        "http://0.0.0.0:8080/spec.json",
        "http://224.0.0.1/spec.json",
    ],
)
def test_the_agent_refuses_link_local_and_reserved_literals(url: str) -> None:
    with pytest.raises(ApplicationError) as refused:  # the activity boundary's form of EgressDeniedError
        fetch_spec(FetchSpecInput(url=url, timeout_seconds=2))
    assert refused.value.type == "EgressDeniedError" and refused.value.non_retryable


def test_a_name_resolving_to_the_metadata_address_is_refused_before_any_dial() -> None:
    dials: list[tuple[str, int]] = []
    transport = local_spec_transport(
        "http://erp.internal/spec.json",
        resolver=lambda host, port: ["10.0.0.5", "169.254.169.254"],
        dial_guard=lambda ip, port: dials.append((ip, port)),
    )
    with pytest.raises(EgressDeniedError, match="link-local"):
        fetch_document(
            "http://erp.internal/spec.json", max_bytes=1 << 20, timeout_seconds=2, transport=transport
        )
    assert dials == []


def test_a_name_resolving_to_private_space_is_dialled_at_the_checked_address() -> None:
    with serve(_doc_app()) as origin:
        port = int(origin.rsplit(":", 1)[1])
        url = f"http://erp.internal:{port}/spec.json"
        dials: list[tuple[str, int]] = []
        transport = local_spec_transport(
            url, resolver=lambda host, p: ["127.0.0.1"], dial_guard=lambda ip, p: dials.append((ip, p))
        )
        body = fetch_document(url, max_bytes=1 << 20, timeout_seconds=5, transport=transport)
    assert body.decode() == DOC and dials == [("127.0.0.1", port)]
