"""A token bucket: how the desk limits replies and notices for rejected commands (time passed in)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(slots=True)
class TokenBucket:
    """At most `capacity` events at once, refilled at `per_s`; time passed in."""

    capacity: float
    per_s: float
    tokens: float = math.nan
    stamp: float = math.nan

    def take(self, now: float) -> bool:
        if math.isnan(self.tokens):
            self.tokens, self.stamp = self.capacity, now
        self.tokens = min(self.capacity, self.tokens + max(0.0, now - self.stamp) * self.per_s)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
