"""The routing decision matrix, row for row (docs/routing.md holds the same table)."""

from __future__ import annotations

import pytest

from workflows.routing import (
    EndpointKind as E,
)
from workflows.routing import (
    NoAgentError,
    StepKind,
    plan_bidirectional,
    plan_route,
)
from workflows.routing import (
    TransformComplexity as T,
)

A = "vsc.acme.agent.edge-1"
C = "vsc.acme.cloud"

# (source, destination, transform) -> [(step, queue)], uses_buffer
MATRIX = [
    # Local -> Local: the agent alone, streaming, no buffer, whatever the transform.
    (E.LOCAL_DB, E.LOCAL_DB, T.NONE, [("sync", A)], False),
    (E.LOCAL_DB, E.LOCAL_DB, T.SIMPLE, [("sync", A)], False),
    (E.LOCAL_DB, E.LOCAL_DB, T.COMPLEX, [("sync", A)], False),
    (E.LOCAL_API, E.LOCAL_DB, T.NONE, [("sync", A)], False),
    # Local -> Cloud: agent extracts into the buffer, the cloud transforms and loads.
    (E.LOCAL_DB, E.CLOUD_DB, T.NONE, [("extract", A), ("load", C)], True),
    (E.LOCAL_DB, E.CLOUD_DB, T.SIMPLE, [("extract", A), ("transform", C), ("load", C)], True),
    (E.LOCAL_DB, E.CLOUD_DB, T.COMPLEX, [("extract", A), ("transform", C), ("load", C)], True),
    (E.LOCAL_API, E.CLOUD_DB, T.NONE, [("extract", A), ("load", C)], True),
    (E.LOCAL_DB, E.SAAS, T.NONE, [("extract", A), ("load", C)], True),
    (E.LOCAL_DB, E.INTERNET_API, T.SIMPLE, [("extract", A), ("transform", C), ("load", C)], True),
    # Cloud -> Local: the cloud extracts (and transforms) into the buffer, the agent loads.
    (E.CLOUD_DB, E.LOCAL_DB, T.NONE, [("extract", C), ("load", A)], True),
    (E.SAAS, E.LOCAL_DB, T.SIMPLE, [("extract", C), ("transform", C), ("load", A)], True),
    (E.INTERNET_API, E.LOCAL_API, T.COMPLEX, [("extract", C), ("transform", C), ("load", A)], True),
    # Cloud -> Cloud: cloud workers only; a buffer only when a complex transform needs its own step.
    (E.SAAS, E.SAAS, T.NONE, [("sync", C)], False),
    (E.CLOUD_DB, E.INTERNET_API, T.SIMPLE, [("sync", C)], False),
    (E.CLOUD_DB, E.CLOUD_DB, T.COMPLEX, [("extract", C), ("transform", C), ("load", C)], True),
    # Internet API -> Cloud.
    (E.INTERNET_API, E.CLOUD_DB, T.NONE, [("sync", C)], False),
    (E.INTERNET_API, E.CLOUD_DB, T.COMPLEX, [("extract", C), ("transform", C), ("load", C)], True),
]


@pytest.mark.parametrize(("source", "destination", "transform", "steps", "buffer"), MATRIX)
def test_plan_route_matrix(source: E, destination: E, transform: T, steps: list, buffer: bool) -> None:
    plan = plan_route(
        tenant="acme", source=source, destination=destination, transform=transform, agent="edge-1"
    )
    assert [(s.kind.value, s.queue) for s in plan.steps] == steps
    assert plan.uses_buffer is buffer


@pytest.mark.parametrize(
    ("source", "destination"),
    [(E.LOCAL_DB, E.LOCAL_DB), (E.LOCAL_DB, E.CLOUD_DB), (E.CLOUD_DB, E.LOCAL_API), (E.LOCAL_API, E.SAAS)],
)
def test_plan_route_without_agent_refuses_local_endpoints(source: E, destination: E) -> None:
    with pytest.raises(NoAgentError, match="needs an on-premise agent"):
        plan_route(tenant="acme", source=source, destination=destination, transform=T.NONE, agent=None)


def test_plan_route_cloud_only_needs_no_agent() -> None:
    plan = plan_route(tenant="acme", source=E.SAAS, destination=E.CLOUD_DB, transform=T.NONE, agent=None)
    assert plan.step(StepKind.SYNC).queue == C


def test_plan_route_queues_are_the_tenants_own() -> None:
    plan = plan_route(tenant="beta", source=E.LOCAL_DB, destination=E.CLOUD_DB, transform=T.NONE, agent="a1")
    assert {s.queue for s in plan.steps} == {"vsc.beta.agent.a1", "vsc.beta.cloud"}


@pytest.mark.parametrize(
    ("left", "right", "queues"),
    [
        # a local side: each side where it lives, the reconcile on the agent (losing local rows stay)
        (E.LOCAL_DB, E.CLOUD_DB, (A, C, A)),
        (E.CLOUD_DB, E.LOCAL_DB, (C, A, A)),
        (E.LOCAL_DB, E.LOCAL_DB, (A, A, A)),
        (E.CLOUD_DB, E.CLOUD_DB, (C, C, C)),
    ],
)
def test_bidirectional_routes_each_side_where_it_lives(left: E, right: E, queues: tuple) -> None:
    route = plan_bidirectional(tenant="acme", left=left, right=right, agent="edge-1")
    assert (route.left, route.right, route.reconcile) == queues


def test_bidirectional_with_a_local_side_needs_an_agent() -> None:
    with pytest.raises(NoAgentError, match="needs an on-premise agent"):
        plan_bidirectional(tenant="acme", left=E.CLOUD_DB, right=E.LOCAL_DB, agent=None)
    assert plan_bidirectional(tenant="acme", left=E.CLOUD_DB, right=E.CLOUD_DB, agent=None).reconcile == C
