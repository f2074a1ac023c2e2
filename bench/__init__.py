"""Benchmarks of our data paths against the physical limit and the peer tools, verified, in one run.

``python -m bench.run`` (``make bench``) copies deterministic PostgreSQL tables (and a MariaDB copy
of one) with a raw binary COPY pipe, a psycopg passthrough, our Pattern 3.1.1 and 3.3.1 data paths
(in-process and through the real Temporal workflow) and the peers (dlt, sling, pgloader, Singer,
installed by ``bench.peers``), checks row count and content hash after every run, measures CPU and
peak RSS, and reports each system against baselines of the same run; its tunnel group measures the
agent gateway against direct gRPC (``bench.tunnel``), its transport group the tunnel's throughput
and round trips against raw TCP and plain websockets, TLS off and on (``bench.transport``). See
``docs/performance.md``.

Nothing is imported here: ``python -m bench.agent_memory`` must load only what our data paths
import, so its peak RSS is the agent's and not the whole harness's. Import from the modules.
"""
