"""Capped exponential backoff, the one implementation: a pure delay function and the small
stateful `Backoff` that drivers keep between failures.

Jitter keeps hundreds of stations that lost the same broker from reconnecting in lock-step
when it comes back ("equal jitter": half the delay fixed, half random). A device on the
station's own serial line or camera contends with nobody, so its backoff may go without
(no `rng`): the configured first delay is then the delay, as its settings promise.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable


def backoff_delay(attempt: int, initial: float, cap: float, rng: random.Random | None) -> float:
    """Delay before retry number `attempt` (0 = first retry): d = min(cap, initial * 2**attempt),
    jittered within [d/2, d] by `rng`, exactly d without one."""
    ceiling = min(cap, initial * (2 ** min(attempt, 32)))
    if rng is None:
        return ceiling
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


class Backoff:
    """When the next attempt is allowed after consecutive failures; success starts over.

    `failed()` spaces attempts by `backoff_delay` (starting at `initial_s`, doubling, capped at
    `max_s`, jittered only when given an `rng`); `remaining()` reads the `clock`.
    """

    def __init__(
        self, initial_s: float, max_s: float, clock: Callable[[], float] = time.monotonic, rng: random.Random | None = None
    ) -> None:
        if initial_s <= 0 or max_s < initial_s:
            raise ValueError("backoff needs 0 < initial_s <= max_s")
        self._initial = initial_s
        self._max = max_s
        self._clock = clock
        self._rng = rng
        self._failures = 0
        self._next_at = 0.0

    def remaining(self) -> float:
        """Seconds until the next attempt is allowed (0 when it is allowed now)."""
        return max(0.0, self._next_at - self._clock())

    def ready(self) -> bool:
        return self.remaining() <= 0.0

    def failed(self) -> float:
        """Record a failure; returns the delay before the next attempt."""
        delay = backoff_delay(self._failures, self._initial, self._max, self._rng)
        self._failures += 1
        self._next_at = self._clock() + delay
        return delay

    def succeeded(self) -> None:
        self._failures = 0
        self._next_at = 0.0
