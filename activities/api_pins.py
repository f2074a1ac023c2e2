"""Pin a published SDK version for a flow: the ``SdkPin`` a workflow input carries.

``sdkgen.build.publish_sdk`` stores spec, source, component and precompiled copies; ``call_api``
also needs the ``ApiDescription`` the SDK was built from (its typed operations), by hash, so
the pinned version is self-contained in the registry. This module stores that description as
an ``api-description`` artifact and names all of them in one ``SdkPin``; the console calls it
when it turns a registered API version into a flow's binding, the demo and the tests directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from activities.api_calls import KIND_DESCRIPTION
from activities.artifacts import ArtifactRegistry
from sdkgen.model import ApiDescription
from workflows.api_types import SdkPin

if TYPE_CHECKING:  # the build needs the cloud extra; a pin only reads its refs
    from sdkgen.build import SdkArtifacts


def description_bytes(desc: ApiDescription) -> bytes:
    """The stored form of ``desc``: its JSON, which ``call_api`` validates back into the model."""
    return desc.model_dump_json(by_alias=True).encode("utf-8")


def pin_sdk(
    *,
    registry: ArtifactRegistry,
    tenant: str,
    desc: ApiDescription,
    artifacts: SdkArtifacts,
    version: int = 1,
) -> SdkPin:
    """Store ``desc`` beside the published ``artifacts`` and return the pin naming them all.

    Idempotent (the registry is content-addressed): pinning the same version twice stores nothing new.

    Raises:
        InvalidInputError: The tenant id is malformed.
    """
    ref = registry.put(tenant=tenant, kind=KIND_DESCRIPTION, data=description_bytes(desc))
    return SdkPin(
        version=version,
        component_sha256=artifacts.component.sha256,
        description_sha256=ref.sha256,
        precompiled={key: art.sha256 for key, art in artifacts.precompiled.items()},
        build_key=artifacts.build_key,
    )
