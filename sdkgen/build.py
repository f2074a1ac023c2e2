"""Compile rendered SDK source into a WebAssembly component, precompile it, publish the artifacts.

A build is named by its build key: the sha256 of the source, the WIT world and the
componentize-py version, i.e. of everything that decides the component's bytes. The cache and
the artifact registry are keyed by it, so publishing the same description twice compiles once.

Reproducibility: componentize-py 0.25.1 is NOT byte-reproducible. Two builds of the same source
in the same directory, with the same environment (also with PYTHONHASHSEED fixed) gave valid
components of different bytes and sizes (19.00 MB vs 18.97 MB, differing from byte 187 on).
It snapshots a pre-initialized CPython heap, which carries build-time randomness, clock reads
and allocator state (upstream: bytecodealliance/componentize-py#247, open). So the contract is
the build key plus content addressing, not rebuild-and-compare: the first component built for
a key is cached and published, and every later build, runtime load or audit uses those stored
bytes (sha256 in the registry), never a fresh rebuild. PYTHONHASHSEED is deliberately not
fixed: it did not help, and a fixed seed baked into every guest would make hash flooding of
its dicts (they parse API responses) predictable.

Measured here (2 shared cores): a build takes 7-19 s, the component is ~19 MB, the precompiled
copy ~36 MB and takes ~8 s to make; deserializing it takes ~0.05 s.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import wasmtime
from pydantic import BaseModel, ConfigDict
from wasmtime.component import Component

from activities.artifacts import ArtifactRef, ArtifactRegistry
from activities.errors import SdkBuildError
from sdkgen.engine import ENGINE_KEY, engine
from sdkgen.model import ApiDescription
from sdkgen.render import render_sdk

WIT_DIR = Path(__file__).parent / "wit"
WORLD = "sdk"
MODULE = "vsc_sdk"
"""The guest module's name inside every component (fixed, so it is not part of the key)."""
COMPONENTIZE_PY_VERSION = importlib.metadata.version("componentize-py")
BUILD_TIMEOUT_S = 300.0
"""Generous: a build takes 5-10 s on two idle cores, much more on a loaded box."""
_STDERR_TAIL = 4000

KIND_SPEC = "openapi-spec"
KIND_SOURCE = "sdk-source"
KIND_COMPONENT = "sdk-component"
KIND_PRECOMPILED = "sdk-precompiled"


class SdkArtifacts(BaseModel):
    """The published artifacts of one SDK version, all in the tenant's artifact registry."""

    model_config = ConfigDict(frozen=True)

    build_key: str
    spec: ArtifactRef
    source: ArtifactRef
    component: ArtifactRef
    precompiled: dict[str, ArtifactRef]
    """Precompiled copies by ``sdkgen.engine.ENGINE_KEY``; another engine compiles the component itself."""
    operations: int


def _wit_bytes() -> bytes:
    parts = []
    for path in sorted(WIT_DIR.rglob("*.wit")):
        data = path.read_bytes()
        rel = path.relative_to(WIT_DIR).as_posix().encode()
        parts.append(len(rel).to_bytes(4, "big") + rel + len(data).to_bytes(8, "big") + data)
    return b"".join(parts)


def build_key(source: str) -> str:
    """The name of the component ``source`` compiles to (hex sha256).

    Length-prefixed parts, so no two different inputs can concatenate to the same bytes.
    """
    digest = hashlib.sha256(b"vsc-sdk-build/1\0")
    for part in (source.encode("utf-8"), _wit_bytes(), COMPONENTIZE_PY_VERSION.encode(), MODULE.encode()):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _componentize_py() -> str:
    beside = Path(sys.executable).parent / "componentize-py"
    if not beside.exists():
        raise SdkBuildError("componentize-py is not installed next to this Python (the [cloud] extra)")
    return str(beside)


def _compile(source: str) -> bytes:
    """Run componentize-py on ``source`` in a fresh directory; no cache."""
    with tempfile.TemporaryDirectory(prefix="vsc-sdk-build-") as tmp:
        work = Path(tmp)
        (work / "app").mkdir()
        (work / "app" / f"{MODULE}.py").write_text(source, encoding="utf-8")
        out = work / "out.wasm"
        command = [
            _componentize_py(),
            "-d", str(WIT_DIR),
            "-w", WORLD,
            "componentize", "--stub-wasi", MODULE,
            "-p", str(work / "app"),
            "-o", str(out),
        ]  # fmt: skip
        # a minimal environment: the build needs no credentials and should not depend on the caller's
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "TMPDIR": tmp, "LANG": "C.UTF-8"}
        try:
            done = subprocess.run(
                command, cwd=work, env=env, capture_output=True, timeout=BUILD_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            raise SdkBuildError(f"componentize-py did not finish within {BUILD_TIMEOUT_S:.0f} s") from None
        if done.returncode != 0 or not out.exists():
            tail = done.stderr.decode("utf-8", "replace")[-_STDERR_TAIL:]
            raise SdkBuildError(f"componentize-py failed (exit {done.returncode}): {tail}")
        return out.read_bytes()


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_component(source: str, *, cache_dir: Path) -> bytes:
    """The component of ``source``, from ``cache_dir`` when it was built before.

    Raises:
        SdkBuildError: componentize-py failed or timed out (its stderr is in the message).
    """
    cached = cache_dir / f"{build_key(source)}.wasm"
    if cached.exists():
        return cached.read_bytes()
    component = _compile(source)
    _atomic_write(cached, component)
    return component


def precompile(component: bytes) -> bytes:
    """The component compiled to native code for ``engine()``; only that engine can load it.

    Raises:
        SdkBuildError: wasmtime refused the component.
    """
    try:
        return bytes(Component(engine(), component).serialize())
    except wasmtime.WasmtimeError as exc:
        raise SdkBuildError(f"wasmtime refused the component: {exc}") from None


def _precompiled(component: bytes, *, cache_dir: Path) -> bytes:
    name = f"{hashlib.sha256(component).hexdigest()}.{ENGINE_KEY}.cwasm"
    cached = cache_dir / name
    if cached.exists():
        return cached.read_bytes()
    native = precompile(component)
    _atomic_write(cached, native)
    return native


def publish_sdk(
    *, registry: ArtifactRegistry, tenant: str, spec_bytes: bytes, desc: ApiDescription, cache_dir: Path
) -> SdkArtifacts:
    """Render, compile and precompile the SDK of ``desc`` and store all four artifacts.

    Idempotent: the registry is content-addressed and the builds are cached by build key.

    Raises:
        SdkBuildError: ``spec_bytes`` is not the spec ``desc`` describes, or the build failed.
    """
    if hashlib.sha256(spec_bytes).hexdigest() != desc.spec_sha256:
        raise SdkBuildError("the spec bytes do not hash to the description's spec_sha256")
    source = render_sdk(desc)
    component = build_component(source, cache_dir=cache_dir)
    native = _precompiled(component, cache_dir=cache_dir)
    return SdkArtifacts(
        build_key=build_key(source),
        spec=registry.put(tenant=tenant, kind=KIND_SPEC, data=spec_bytes),
        source=registry.put(tenant=tenant, kind=KIND_SOURCE, data=source.encode("utf-8")),
        component=registry.put(tenant=tenant, kind=KIND_COMPONENT, data=component),
        precompiled={ENGINE_KEY: registry.put(tenant=tenant, kind=KIND_PRECOMPILED, data=native)},
        operations=len(desc.operations),
    )
