"""Where each step of a flow runs: a pure function from endpoints to a plan of queued steps.

The decision matrix (docs/routing.md) is the product rule "credentials and local data stay on
premises unless the flow's destination is in the cloud": anything that touches a local
endpoint runs on the tenant's agent, anything that touches a cloud or internet endpoint runs
on the cloud workers, and data crosses between the two only through the encrypted buffer.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from workflows.queues import agent_queue, cloud_queue


class EndpointKind(StrEnum):
    """Where an endpoint lives, which decides who can reach it."""

    LOCAL_DB = "local_db"
    LOCAL_API = "local_api"
    CLOUD_DB = "cloud_db"
    SAAS = "saas"
    INTERNET_API = "internet_api"

    @property
    def is_local(self) -> bool:
        """Reachable only from inside the customer's network, i.e. by an agent."""
        return self in (EndpointKind.LOCAL_DB, EndpointKind.LOCAL_API)

    @property
    def label(self) -> str:
        """How errors name this kind of endpoint ("a local API")."""
        return _LABELS[self]


_LABELS = {
    EndpointKind.LOCAL_DB: "a local database",
    EndpointKind.LOCAL_API: "a local API",
    EndpointKind.CLOUD_DB: "a cloud database",
    EndpointKind.SAAS: "a SaaS",
    EndpointKind.INTERNET_API: "an internet API",
}


class TransformComplexity(StrEnum):
    """How heavy the transform between extract and load is."""

    NONE = "none"
    SIMPLE = "simple"
    """Row-wise (select, rename, cast, filter, derive): runs wherever the rows already are."""
    COMPLEX = "complex"
    """Joins, aggregations, multi-source merges: need the cloud transform engine."""


class Location(StrEnum):
    """Which side runs a step."""

    AGENT = "agent"
    CLOUD = "cloud"


class StepKind(StrEnum):
    """What a step does."""

    SYNC = "sync"
    """Extract, transform and load streamed inside one process; no buffer."""
    EXTRACT = "extract"
    TRANSFORM = "transform"
    LOAD = "load"


class PlanStep(BaseModel):
    """One step of a plan and the task queue that serves it."""

    model_config = ConfigDict(frozen=True)

    kind: StepKind
    location: Location
    queue: str


class RoutePlan(BaseModel):
    """The ordered steps of a flow and whether data passes through the encrypted buffer."""

    model_config = ConfigDict(frozen=True)

    steps: tuple[PlanStep, ...]
    uses_buffer: bool

    def step(self, kind: StepKind) -> PlanStep:
        """Return the step of ``kind``.

        Raises:
            KeyError: The plan has no such step.
        """
        for s in self.steps:
            if s.kind == kind:
                return s
        raise KeyError(kind)


class NoAgentError(ValueError):
    """A flow touches a local endpoint but the tenant has no online agent to run it."""


def plan_route(
    *,
    tenant: str,
    source: EndpointKind,
    destination: EndpointKind,
    transform: TransformComplexity,
    agent: str | None,
) -> RoutePlan:
    """Decide which side runs each step of a flow.

    Args:
        tenant: Tenant that owns the flow; every queue in the plan is that tenant's.
        source: Where the data is read.
        destination: Where the data is written.
        transform: Complexity of the transform between them.
        agent: Connector id of an online agent (or agent group), or None when none is online.

    Returns:
        The plan. Local-to-local flows never leave the agent, even for complex transforms,
        because their data must not leave the premises.

    Raises:
        NoAgentError: A local endpoint is involved and ``agent`` is None.
    """
    touches_local = source.is_local or destination.is_local
    if touches_local and agent is None:
        raise NoAgentError(
            f"the flow {source.value} -> {destination.value} needs an on-premise agent, "
            f"but tenant {tenant!r} has none online"
        )
    cloud = cloud_queue(tenant)
    local = agent_queue(tenant, agent) if agent is not None else None

    def at(kind: StepKind, location: Location) -> PlanStep:
        queue = local if location is Location.AGENT else cloud
        assert queue is not None  # guarded by the NoAgentError check above
        return PlanStep(kind=kind, location=location, queue=queue)

    if source.is_local and destination.is_local:
        return RoutePlan(steps=(at(StepKind.SYNC, Location.AGENT),), uses_buffer=False)
    if not touches_local:
        if transform is TransformComplexity.COMPLEX:
            steps = (
                at(StepKind.EXTRACT, Location.CLOUD),
                at(StepKind.TRANSFORM, Location.CLOUD),
                at(StepKind.LOAD, Location.CLOUD),
            )
            return RoutePlan(steps=steps, uses_buffer=True)
        return RoutePlan(steps=(at(StepKind.SYNC, Location.CLOUD),), uses_buffer=False)

    extract_at = Location.AGENT if source.is_local else Location.CLOUD
    load_at = Location.AGENT if destination.is_local else Location.CLOUD
    steps_list = [at(StepKind.EXTRACT, extract_at)]
    if transform is TransformComplexity.COMPLEX:
        steps_list.append(at(StepKind.TRANSFORM, Location.CLOUD))
    elif transform is TransformComplexity.SIMPLE:
        # Row-wise transforms run in the cloud step so the agent stays a thin mover;
        # for cloud -> local the cloud extract applies them before the buffer.
        steps_list.append(at(StepKind.TRANSFORM, Location.CLOUD))
    steps_list.append(at(StepKind.LOAD, load_at))
    return RoutePlan(steps=tuple(steps_list), uses_buffer=True)


class BidiRoute(BaseModel):
    """Queues of a bidirectional sync: each side's reads and writes, and the reconcile between them."""

    model_config = ConfigDict(frozen=True)

    left: str
    right: str
    reconcile: str


def plan_bidirectional(
    *, tenant: str, left: EndpointKind, right: EndpointKind, agent: str | None
) -> BidiRoute:
    """Decide where a bidirectional sync (3.4.3) reads, reconciles and writes.

    Each side is read and written where it lives. The reconcile sees both sides' changes, so
    it runs on the agent whenever a side is local: a local row that loses a conflict then never
    leaves the premises, and only the winners cross the buffer.

    Raises:
        NoAgentError: A side is local and ``agent`` is None.
    """
    touches_local = left.is_local or right.is_local
    if touches_local and agent is None:
        raise NoAgentError(
            f"the bidirectional flow {left.value} <-> {right.value} needs an on-premise agent, "
            f"but tenant {tenant!r} has none online"
        )
    cloud = cloud_queue(tenant)
    local = agent_queue(tenant, agent) if agent is not None else cloud

    def at(kind: EndpointKind) -> str:
        return local if kind.is_local else cloud

    return BidiRoute(left=at(left), right=at(right), reconcile=local if touches_local else cloud)


def api_endpoint(accessibility: str, *, other: EndpointKind) -> EndpointKind:
    """The endpoint kind of a registered user API in a flow whose other endpoint is ``other``.

    A local-only API is a LOCAL_API (its calls run on the agent), an internet one an
    INTERNET_API (the cloud workers call it). One reachable from both sides stays on premises
    when the other endpoint is local, so a local-to-local flow never leaves the agent.

    Raises:
        ValueError: ``accessibility`` is not ``local``, ``internet`` or ``both``.
    """
    if accessibility == "local":
        return EndpointKind.LOCAL_API
    if accessibility == "internet":
        return EndpointKind.INTERNET_API
    if accessibility == "both":
        return EndpointKind.LOCAL_API if other.is_local else EndpointKind.INTERNET_API
    raise ValueError(f"unknown API accessibility {accessibility!r}")


class LocalOnlyFanError(ValueError):
    """A fan-out or fan-in whose every endpoint is local: its data would leave the premises for nothing."""


class FanPlan(BaseModel):
    """Queues of a fan-out (3.4.1) or fan-in (3.4.2): one extract per source, one load per destination.

    Both always pass the encrypted buffer: it is what lets one extract feed many loads, and many
    extracts meet in one cloud merge. ``cloud`` is the queue that merges and purges the buffer.
    """

    model_config = ConfigDict(frozen=True)

    extracts: tuple[PlanStep, ...]
    loads: tuple[PlanStep, ...]
    cloud: str


def plan_fan(
    *,
    tenant: str,
    sources: tuple[EndpointKind, ...],
    destinations: tuple[EndpointKind, ...],
    agent: str | None,
) -> FanPlan:
    """Route every extract to the side that reaches its source and every load to its destination's.

    Raises:
        NoAgentError: A local endpoint is involved and ``agent`` is None.
        LocalOnlyFanError: Every endpoint is local; such flows run as 3.1.1 copies on the agent.
    """
    endpoints = (*sources, *destinations)
    if all(e.is_local for e in endpoints):
        raise LocalOnlyFanError(
            "every endpoint of this fan-out/fan-in is local; run it as local-to-local syncs (3.1.1) "
            "so the data never leaves the premises"
        )
    if any(e.is_local for e in endpoints) and agent is None:
        raise NoAgentError(f"the flow touches a local endpoint, but tenant {tenant!r} has no agent online")
    cloud = cloud_queue(tenant)

    def at(kind: StepKind, endpoint: EndpointKind) -> PlanStep:
        if endpoint.is_local:
            assert agent is not None  # guarded above
            return PlanStep(kind=kind, location=Location.AGENT, queue=agent_queue(tenant, agent))
        return PlanStep(kind=kind, location=Location.CLOUD, queue=cloud)

    return FanPlan(
        extracts=tuple(at(StepKind.EXTRACT, s) for s in sources),
        loads=tuple(at(StepKind.LOAD, d) for d in destinations),
        cloud=cloud,
    )
