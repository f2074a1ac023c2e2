"""Real public specs go through load_spec + describe: every operation generated or refused with a reason."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from sdkgen.operations import METHODS, describe
from sdkgen.spec import load_spec
from tests.sdkgen.safety import assert_safe_description, no_io
from tests.sdkgen.specs import read_spec, real_specs


def test_enough_real_specs() -> None:
    specs = real_specs()
    assert len(specs) >= 14
    assert any(p.suffix == ".yaml" for p in specs)


def _method_count(data: bytes, path: Path) -> int:
    import yaml

    doc = yaml.safe_load(data) if path.suffix == ".yaml" else json.loads(data)
    return sum(1 for item in doc["paths"].values() for m in item if m in METHODS)


@pytest.mark.parametrize("path", real_specs(), ids=lambda p: p.name)
def test_real_spec_loads_and_describes(path: Path) -> None:
    data = read_spec(path)
    started = time.monotonic()
    with no_io() as calls:
        spec = load_spec(data)
        desc = describe(spec)
    elapsed = time.monotonic() - started
    assert calls == []
    assert spec.openapi.startswith(("3.0", "3.1"))
    assert len(desc.operations) + len(desc.refused) == _method_count(data, path)
    assert desc.operations
    assert_safe_description(desc)
    print(
        f"{path.name}: {spec.openapi}, {len(desc.operations)} generated, "
        f"{len(desc.refused)} refused, {elapsed:.2f} s"
    )
    # Generous: GitHub's 13 MB spec takes ~1.5 s on an idle box.
    assert elapsed < 20
