from __future__ import annotations

import pytest

from workflows.queues import QueueNameError, agent_queue, cloud_queue, parse_queue


def test_cloud_and_agent_queue_names_round_trip() -> None:
    assert cloud_queue("acme") == "vsc.acme.cloud"
    assert agent_queue("acme", "edge-1") == "vsc.acme.agent.edge-1"
    assert parse_queue("vsc.acme.cloud").tenant == "acme"
    parsed = parse_queue(agent_queue("acme", "edge-1"))
    assert (parsed.tenant, parsed.agent, parsed.is_cloud) == ("acme", "edge-1", False)


@pytest.mark.parametrize("bad", ["", "Acme", "a.b", "a b", "-x", "x" * 64, "acme/../b"])
def test_queue_names_refuse_odd_tenants(bad: str) -> None:
    with pytest.raises(QueueNameError):
        cloud_queue(bad)
    with pytest.raises(QueueNameError):
        agent_queue("acme", bad)


@pytest.mark.parametrize("bad", ["acme", "vsc.acme", "vsc.acme.agent", "tq.acme.cloud", "vsc.acme.cloud.x"])
def test_parse_queue_refuses_foreign_names(bad: str) -> None:
    with pytest.raises(QueueNameError):
        parse_queue(bad)
