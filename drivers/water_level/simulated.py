"""A water-level sensor that plays a scenario of (time, level) points.

Shipped code, not a test double: the demo, training and `stationctl check` on a bench use it.
Time comes from the clock passed in, so a test can play a day in a millisecond.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable, Sequence

from drivers.base import DeviceUnavailable, WaterReading


class SimulatedWaterLevel:
    """Interpolates the level between scenario points; optionally loops, adds noise, or goes silent."""

    def __init__(
        self,
        name: str,
        points: Sequence[tuple[float, float]],
        clock: Callable[[], float],
        loop: bool = True,
        noise_m: float = 0.0,
        silent_from_s: float | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not points:
            raise ValueError("a scenario needs at least one point")
        self.name = name
        self._times = [t for t, _ in points]
        self._levels = [lvl for _, lvl in points]
        self._clock = clock
        self._start = clock()
        self._loop = loop
        self._noise = noise_m
        self._silent_from = silent_from_s
        self._rng = rng or random.Random(0)

    def level_at(self, elapsed: float) -> float:
        """The scenario's level `elapsed` seconds after the start."""
        span = self._times[-1]
        if self._loop and span > 0:
            elapsed %= span
        i = bisect.bisect_right(self._times, elapsed)
        if i == 0:
            return self._levels[0]
        if i >= len(self._times):
            return self._levels[-1]
        t0, t1 = self._times[i - 1], self._times[i]
        l0, l1 = self._levels[i - 1], self._levels[i]
        return l0 + (l1 - l0) * (elapsed - t0) / (t1 - t0)

    def read(self) -> WaterReading:
        elapsed = self._clock() - self._start
        if self._silent_from is not None and elapsed >= self._silent_from:
            raise DeviceUnavailable(self.name, "simulated sensor stopped answering")
        level = self.level_at(elapsed)
        if self._noise:
            level += self._rng.uniform(-self._noise, self._noise)
        return WaterReading(level_m=round(level, 4), raw={"scenario_s": round(elapsed, 3)})

    def close(self) -> None:
        """Nothing to release."""
