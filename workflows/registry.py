"""Every workflow type the workers register; the replay suite checks each has histories."""

from workflows.api_to_api import InternetApiToInternetApi, LocalApiToInternetApi
from workflows.bidirectional import BidirectionalSync
from workflows.cloud_to_local import CloudToLocalSync
from workflows.db_to_api import CloudDbToInternetApi, LocalDbToLocalApi
from workflows.fan_in import FanInSync
from workflows.fan_out import FanOutSync
from workflows.fetch_spec import FetchSpecWorkflow
from workflows.local_to_cloud import LocalToCloudSync
from workflows.local_to_local import LocalToLocalSync

ALL_WORKFLOWS: list[type] = [
    LocalToLocalSync,
    LocalToCloudSync,
    CloudToLocalSync,
    LocalDbToLocalApi,
    LocalApiToInternetApi,
    InternetApiToInternetApi,
    CloudDbToInternetApi,
    FetchSpecWorkflow,
    FanOutSync,
    FanInSync,
    BidirectionalSync,
]

WORKFLOW_BY_PATTERN: dict[str, type] = {
    "3.1.1": LocalToLocalSync,
    "3.1.2": LocalDbToLocalApi,
    "3.2.1": InternetApiToInternetApi,
    "3.2.2": CloudDbToInternetApi,
    "3.3.1": LocalToCloudSync,
    "3.3.2": CloudToLocalSync,
    "3.3.3": LocalApiToInternetApi,
    "3.4.1": FanOutSync,
    "3.4.2": FanInSync,
    "3.4.3": BidirectionalSync,
}
"""Seed pattern number -> workflow class, for ``vsc run <pattern>``."""

API_PATTERNS = frozenset({"3.1.2", "3.2.1", "3.2.2", "3.3.3"})
"""Mode 2 patterns: their input names user APIs and their result is an ``ApiFlowResult``."""
SYNC_PATTERNS = frozenset({"3.1.1", "3.3.1", "3.3.2"})
"""Table syncs: a ``SyncInput``, a ``SyncResult``, and a ``SyncState`` from their progress query."""
