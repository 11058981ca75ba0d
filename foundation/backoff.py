"""Capped, jittered exponential backoff: a pure function, so its bounds are easy to test.

Jitter keeps hundreds of stations that lost the same broker from reconnecting in lock-step
when it comes back ("equal jitter": half the delay fixed, half random).
"""

from __future__ import annotations

import random


def backoff_delay(attempt: int, initial: float, cap: float, rng: random.Random) -> float:
    """Delay before reconnection attempt number `attempt` (0 = first retry), within [d/2, d]."""
    ceiling = min(cap, initial * (2 ** min(attempt, 32)))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)
