"""The one wasmtime engine configuration: precompiled SDKs are only valid for the engine that made them.

A serialized component can be deserialized only by an engine with the same wasmtime version
and the same settings, so builds (which precompile) and the runtime host (which loads) both
take their engine from here, and the artifact registry keys precompiled copies by
``ENGINE_KEY``.
"""

from __future__ import annotations

import functools
import importlib.metadata

import wasmtime

WASMTIME_VERSION = importlib.metadata.version("wasmtime")
ENGINE_KEY = f"wasmtime-{WASMTIME_VERSION}-epoch"
"""Names the engine build of a precompiled copy: wasmtime version plus the settings below."""


@functools.cache
def engine() -> wasmtime.Engine:
    """The process's engine: epoch interruption on, so a host ticker can stop runaway guests."""
    config = wasmtime.Config()
    config.epoch_interruption = True
    return wasmtime.Engine(config)
