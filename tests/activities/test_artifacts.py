"""The artifact registry on both object stores: content addressing, idempotence, tenancy, tamper detection."""

from __future__ import annotations

import hashlib

import pytest

from activities.artifacts import ArtifactRegistry
from activities.buffer import ObjectBackend
from activities.errors import ArtifactIntegrityError, ArtifactNotFoundError, InvalidInputError


def test_put_is_named_by_sha256_and_idempotent(backend: ObjectBackend) -> None:
    registry = ArtifactRegistry(backend=backend)
    data = b'{"pattern":"3.1.1"}'
    ref = registry.put(tenant="acme", kind="workflow-definition", data=data)
    assert ref.sha256 == hashlib.sha256(data).hexdigest() and ref.size == len(data)
    assert registry.put(tenant="acme", kind="workflow-definition", data=data) == ref
    assert [i.key for i in backend.list("acme/")] == [f"acme/workflow-definition/{ref.sha256}"]
    assert registry.get(tenant="acme", kind="workflow-definition", sha256=ref.sha256) == data


def test_other_tenant_and_other_kind_do_not_see_it(backend: ObjectBackend) -> None:
    registry = ArtifactRegistry(backend=backend)
    ref = registry.put(tenant="acme", kind="workflow-definition", data=b"x")
    for tenant, kind in (("other", "workflow-definition"), ("acme", "openapi-spec")):
        assert not registry.exists(tenant=tenant, kind=kind, sha256=ref.sha256)
        with pytest.raises(ArtifactNotFoundError):
            registry.get(tenant=tenant, kind=kind, sha256=ref.sha256)


def test_altered_bytes_are_refused(backend: ObjectBackend) -> None:
    registry = ArtifactRegistry(backend=backend)
    ref = registry.put(tenant="acme", kind="workflow-definition", data=b"original")
    backend.put(f"acme/workflow-definition/{ref.sha256}", b"changed")
    with pytest.raises(ArtifactIntegrityError, match="altered at rest"):
        registry.get(tenant="acme", kind="workflow-definition", sha256=ref.sha256)


@pytest.mark.parametrize(
    ("tenant", "kind", "digest"),
    [("../etc", "workflow-definition", "0" * 64), ("acme", "../x", "0" * 64), ("acme", "spec", "../" * 10)],
)
def test_malformed_names_are_refused(backend: ObjectBackend, tenant: str, kind: str, digest: str) -> None:
    with pytest.raises(InvalidInputError):
        ArtifactRegistry(backend=backend).get(tenant=tenant, kind=kind, sha256=digest)
