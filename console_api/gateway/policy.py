"""Which Temporal RPCs an agent session may make, decided from the decoded request.

Only the calls an activity-only Python worker (temporalio 1.35) issues are allowed, each scoped
to the session's namespace and task queues (found by running a worker through a logging proxy).
Temporal does not sign task tokens, so respond/heartbeat calls are allowed only for tokens this
agent group's polls returned (through any session of any member on this gateway, so an
activity running across a reconnect can still finish); a completed task's token is forgotten, so
replays are refused too.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError, Message
from temporalio.api.enums.v1 import TaskQueueKind
from temporalio.api.workflowservice.v1 import request_response_pb2 as rr

SERVICE = "/temporal.api.workflowservice.v1.WorkflowService/"
_MAX_TOKENS = 10_000


@dataclass
class SessionScope:
    """What one agent session may touch; ``tokens`` is shared by the sessions of the agent's group."""

    tenant: str
    agent_id: str
    namespace: str
    queues: frozenset[str]
    tokens: OrderedDict[bytes, None] = field(default_factory=OrderedDict)

    def remember(self, token: bytes) -> None:
        """Record a task token handed to this session (bounded: the oldest are dropped)."""
        self.tokens[token] = None
        while len(self.tokens) > _MAX_TOKENS:
            self.tokens.popitem(last=False)

    def forget(self, token: bytes) -> None:
        """The task is finished; its token may not be used again."""
        self.tokens.pop(token, None)


Check = Callable[[Message, SessionScope], str | None]


def _namespace(request: Message, scope: SessionScope) -> str | None:
    namespace: str = getattr(request, "namespace")  # noqa: B009 - every checked request has one
    if namespace != scope.namespace:
        return f"namespace {namespace!r} is not the session's"
    return None


def _queue(name: str, scope: SessionScope) -> str | None:
    return None if name in scope.queues else f"task queue {name!r} is not the agent's"


def _describe_namespace(request: Message, scope: SessionScope) -> str | None:
    assert isinstance(request, rr.DescribeNamespaceRequest)
    if request.id:
        return "namespaces may only be described by name"
    return _namespace(request, scope)


def _poll_activity(request: Message, scope: SessionScope) -> str | None:
    assert isinstance(request, rr.PollActivityTaskQueueRequest)
    if request.task_queue.kind not in (
        TaskQueueKind.TASK_QUEUE_KIND_UNSPECIFIED,
        TaskQueueKind.TASK_QUEUE_KIND_NORMAL,
    ):
        return "only normal activity task queues may be polled"
    if request.worker_control_task_queue and request.worker_control_task_queue not in scope.queues:
        return _queue(request.worker_control_task_queue, scope)
    return _namespace(request, scope) or _queue(request.task_queue.name, scope)


def _task_token(request: Message, scope: SessionScope) -> str | None:
    token: bytes = getattr(request, "task_token")  # noqa: B009 - the four respond/heartbeat requests
    if token not in scope.tokens:
        return "task token was not issued to this session (forged, foreign or already completed)"
    return _namespace(request, scope)


def _shutdown_worker(request: Message, scope: SessionScope) -> str | None:
    assert isinstance(request, rr.ShutdownWorkerRequest)
    if request.sticky_task_queue:
        return "activity-only agents have no sticky queue"
    if request.task_queue:
        problem = _queue(request.task_queue, scope)
        if problem:
            return problem
    return _namespace(request, scope)


def _worker_heartbeat(request: Message, scope: SessionScope) -> str | None:
    assert isinstance(request, rr.RecordWorkerHeartbeatRequest)
    for heartbeat in request.worker_heartbeat:
        problem = _queue(heartbeat.task_queue, scope)
        if problem:
            return problem
    return _namespace(request, scope)


def _allow(_request: Message, _scope: SessionScope) -> str | None:
    return None


RULES: dict[str, tuple[type[Message], Check]] = {
    "GetSystemInfo": (rr.GetSystemInfoRequest, _allow),
    "DescribeNamespace": (rr.DescribeNamespaceRequest, _describe_namespace),
    "PollActivityTaskQueue": (rr.PollActivityTaskQueueRequest, _poll_activity),
    "RecordActivityTaskHeartbeat": (rr.RecordActivityTaskHeartbeatRequest, _task_token),
    "RespondActivityTaskCompleted": (rr.RespondActivityTaskCompletedRequest, _task_token),
    "RespondActivityTaskFailed": (rr.RespondActivityTaskFailedRequest, _task_token),
    "RespondActivityTaskCanceled": (rr.RespondActivityTaskCanceledRequest, _task_token),
    "ShutdownWorker": (rr.ShutdownWorkerRequest, _shutdown_worker),
    "RecordWorkerHeartbeat": (rr.RecordWorkerHeartbeatRequest, _worker_heartbeat),
}
FINISHING = frozenset(
    {"RespondActivityTaskCompleted", "RespondActivityTaskFailed", "RespondActivityTaskCanceled"}
)


@dataclass(frozen=True)
class Decision:
    """Outcome of :func:`authorize`; ``request`` is the decoded request when allowed."""

    rpc: str
    reason: str | None
    request: Message | None = None

    @property
    def allowed(self) -> bool:
        """Whether the call may be forwarded."""
        return self.reason is None


def authorize(method: str, payload: bytes, scope: SessionScope) -> Decision:
    """Decide whether one gRPC call of this session may reach Temporal."""
    rpc = method.removeprefix(SERVICE) if method.startswith(SERVICE) else method
    rule = RULES.get(rpc) if method.startswith(SERVICE) else None
    if rule is None:
        return Decision(rpc, f"{rpc} is not a worker RPC agents may call")
    request_type, check = rule
    try:
        request = request_type.FromString(payload)
    except DecodeError:
        return Decision(rpc, "the request could not be decoded")
    return Decision(rpc, check(request, scope), request)


def after_response(decision: Decision, response: bytes, scope: SessionScope) -> None:
    """Learn from an allowed call's response: remember issued task tokens, forget finished ones."""
    if decision.rpc == "PollActivityTaskQueue":
        token = rr.PollActivityTaskQueueResponse.FromString(response).task_token
        if token:
            scope.remember(token)
    elif decision.rpc in FINISHING and decision.request is not None:
        scope.forget(getattr(decision.request, "task_token"))  # noqa: B009
