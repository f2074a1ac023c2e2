"""Save-time checks of fan-out (3.4.1), fan-in (3.4.2) and bidirectional (3.4.3) definitions.

These inputs name each endpoint's side themselves (``kind`` or ``location``), so saving checks
that every named connection exists on that side (a local one reached by the input's agent) and
that every side the flow writes is granted write. The workflows route with
:func:`workflows.routing.plan_fan` and :func:`~workflows.routing.plan_bidirectional`; their
plans are mapped here into the :class:`RoutePlan` every saved definition shows.
"""

from __future__ import annotations

from collections.abc import Sequence

from activities.metadata import TenantSession
from console_api.api.planning import connection_named, enrolled_agent, flow_agent
from console_api.api.problems import field_error
from console_api.api.schemas import BidiDefinition
from workflows.fan_types import FanEndpoint, FanInInput, FanOutInput
from workflows.queues import cloud_queue
from workflows.routing import (
    EndpointKind,
    LocalOnlyFanError,
    Location,
    PlanStep,
    RoutePlan,
    StepKind,
    plan_bidirectional,
    plan_fan,
)

_INPUT = ("body", "input")
Loc = tuple[str | int, ...]


def _side(
    session: TenantSession, name: str, *, local: bool, agent: str | None, write: bool, field: Loc
) -> None:
    """The connection exists on the side the input declares, and is granted write if the flow writes it."""
    row = connection_named(session, name, *field)
    want = "local" if local else "cloud"
    if row.location != want:
        raise field_error(
            (*_INPUT, *field), f"the input declares {name!r} {want}, but the connection is {row.location}"
        )
    if local and row.agent_id != agent:
        raise field_error(
            (*_INPUT, *field), f"connection {name!r} is reached by agent {row.agent_id!r}, not {agent!r}"
        )
    if write and not row.write_granted:
        raise field_error((*_INPUT, *field), f"connection {name!r} is not granted write")


def _endpoints(
    session: TenantSession, agent: str, endpoints: Sequence[tuple[FanEndpoint, bool, Loc]]
) -> None:
    """Check (endpoint, written, field) triples; the agent only matters when one endpoint is local."""
    if any(e.kind.is_local for e, _, _ in endpoints):
        enrolled_agent(session, agent)
    for endpoint, write, field in endpoints:
        _side(
            session, endpoint.connection, local=endpoint.kind.is_local, agent=agent, write=write, field=field
        )


def _step(tenant: str, kind: StepKind, queue: str) -> PlanStep:
    at = Location.CLOUD if queue == cloud_queue(tenant) else Location.AGENT
    return PlanStep(kind=kind, location=at, queue=queue)


def _fan_plan(
    tenant: str,
    *,
    sources: tuple[EndpointKind, ...],
    destinations: tuple[EndpointKind, ...],
    agent: str,
    field: str,
) -> RoutePlan:
    """Extracts in source order, then loads in destination order; a fan always passes the buffer.

    ``agent`` is always given (the fan inputs require it), so ``plan_fan`` never lacks one.
    """
    try:
        fan = plan_fan(tenant=tenant, sources=sources, destinations=destinations, agent=agent)
    except LocalOnlyFanError as exc:
        raise field_error((*_INPUT, field), str(exc)) from None
    return RoutePlan(steps=(*fan.extracts, *fan.loads), uses_buffer=True)


def plan_fan_out(session: TenantSession, body: FanOutInput) -> RoutePlan:
    """Check a 3.4.1 definition: its source, and every destination granted write.

    Raises:
        RequestValidationError: 422 at the connection at fault, or at ``destinations`` when every
            endpoint is local (such copies run as 3.1.1 syncs and never leave the premises).
    """
    _endpoints(
        session,
        body.agent,
        [
            (body.source, False, ("source", "connection")),
            *((d, True, ("destinations", i, "connection")) for i, d in enumerate(body.destinations)),
        ],
    )
    return _fan_plan(
        session.tenant_id,
        sources=(body.source.kind,),
        destinations=tuple(d.kind for d in body.destinations),
        agent=body.agent,
        field="destinations",
    )


def plan_fan_in(session: TenantSession, body: FanInInput) -> RoutePlan:
    """Check a 3.4.2 definition: every source, and the destination granted write.

    Raises:
        RequestValidationError: 422 at the connection at fault, or at ``destination`` when every
            endpoint is local.
    """
    _endpoints(
        session,
        body.agent,
        [
            *(
                (s.endpoint, False, ("sources", i, "endpoint", "connection"))
                for i, s in enumerate(body.sources)
            ),
            (body.destination, True, ("destination", "connection")),
        ],
    )
    return _fan_plan(
        session.tenant_id,
        sources=tuple(s.endpoint.kind for s in body.sources),
        destinations=(body.destination.kind,),
        agent=body.agent,
        field="destination",
    )


def plan_bidi(session: TenantSession, body: BidiDefinition) -> RoutePlan:
    """Check a 3.4.3 definition: both sides exist where declared and are granted write (both are written).

    The plan reads both sides (``extract``), reconciles them (``transform``: on the agent when a side
    is local) and writes both (``load``), in the order left, right.

    Raises:
        RequestValidationError: 422 at the side or the ``agent`` at fault.
    """
    local = body.left.location == "local" or body.right.location == "local"
    agent = flow_agent(session, body.agent, pattern="3.4.3", local=local)
    for name, side in (("left", body.left), ("right", body.right)):
        _side(
            session,
            side.connection,
            local=side.location == "local",
            agent=agent,
            write=True,
            field=(name, "connection"),
        )
    tenant = session.tenant_id
    route = plan_bidirectional(tenant=tenant, left=body.left.endpoint, right=body.right.endpoint, agent=agent)
    steps = (
        _step(tenant, StepKind.EXTRACT, route.left),
        _step(tenant, StepKind.EXTRACT, route.right),
        _step(tenant, StepKind.TRANSFORM, route.reconcile),
        _step(tenant, StepKind.LOAD, route.left),
        _step(tenant, StepKind.LOAD, route.right),
    )
    return RoutePlan(steps=steps, uses_buffer=True)
