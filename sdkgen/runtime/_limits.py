"""Time and rate limits: the epoch ticker that stops runaway guests, and the per-tenant token bucket.

The rate limit refuses rather than waits: a refused call raises ``ApiUnavailableError`` ("rate
limited"), which is Transient, so Temporal's retry policy spaces the attempts out instead of an
activity slot sleeping inside the worker.
"""

from __future__ import annotations

import math
import threading
import time
import weakref

import wasmtime

from activities.errors import ApiUnavailableError

TICK_S = 0.01
"""Epoch period. A guest overruns its budget by at most about one tick plus scheduling delay."""


class EpochTicker:
    """A daemon thread advancing an engine's epoch every ``TICK_S``; one per engine per process."""

    _tickers: weakref.WeakKeyDictionary[wasmtime.Engine, EpochTicker] = weakref.WeakKeyDictionary()
    _lock = threading.Lock()

    def __init__(self, engine: wasmtime.Engine) -> None:
        self._engine = engine
        self._thread = threading.Thread(target=self._run, name="sdk-epoch-ticker", daemon=True)
        self._thread.start()

    @classmethod
    def ensure(cls, engine: wasmtime.Engine) -> EpochTicker:
        """The ticker of ``engine``, started on first use."""
        with cls._lock:
            ticker = cls._tickers.get(engine)
            if ticker is None:
                ticker = cls(engine)
                cls._tickers[engine] = ticker
            return ticker

    def _run(self) -> None:
        # Sleep to an absolute schedule so ticks do not drift longer under load.
        next_at = time.monotonic()
        while True:
            next_at += TICK_S
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_at = time.monotonic()
            self._engine.increment_epoch()

    @staticmethod
    def ticks_for(seconds: float) -> int:
        """The epoch deadline (in ticks from now) that gives a guest ``seconds`` of wall time."""
        return max(1, math.ceil(seconds / TICK_S))


class TokenBucket:
    """Per-key token buckets (calls per second with a burst), in process, thread-safe."""

    def __init__(self) -> None:
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, *, rate: float, burst: int) -> None:
        """Spend one token of ``key`` or refuse.

        Raises:
            ApiUnavailableError: The bucket is empty (Transient: retry later).
        """
        now = time.monotonic()
        with self._lock:
            tokens, last = self._state.get(key, (float(burst), now))
            tokens = min(float(burst), tokens + (now - last) * rate)
            if tokens < 1.0:
                self._state[key] = (tokens, now)
                raise ApiUnavailableError(
                    "rate limited: too many API calls for this tenant", retry_after_s=(1.0 - tokens) / rate
                )
            self._state[key] = (tokens - 1.0, now)
