"""Every workflow type the workers register; the replay suite checks each has histories."""

from workflows.api_to_api import LocalApiToInternetApi
from workflows.bidirectional import BidirectionalSync
from workflows.cloud_to_local import CloudToLocalSync
from workflows.fetch_spec import FetchSpecWorkflow
from workflows.local_db_to_api import LocalDbToLocalApi
from workflows.local_to_cloud import LocalToCloudSync
from workflows.local_to_local import LocalToLocalSync

ALL_WORKFLOWS: list[type] = [
    LocalToLocalSync,
    LocalToCloudSync,
    CloudToLocalSync,
    LocalDbToLocalApi,
    LocalApiToInternetApi,
    FetchSpecWorkflow,
    BidirectionalSync,
]

WORKFLOW_BY_PATTERN: dict[str, type] = {
    "3.1.1": LocalToLocalSync,
    "3.1.2": LocalDbToLocalApi,
    "3.3.1": LocalToCloudSync,
    "3.3.2": CloudToLocalSync,
    "3.3.3": LocalApiToInternetApi,
    "3.4.3": BidirectionalSync,
}
"""Seed pattern number -> workflow class, for ``vsc run <pattern>``."""
