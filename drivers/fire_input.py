"""Fire and smoke inputs: a simulated schedule player (real GPIO drivers live beside it)."""

from __future__ import annotations

from collections.abc import Callable, Sequence


class SimulatedFireInput:
    """Active during the given (start_s, end_s) windows since start, optionally repeating."""

    def __init__(
        self,
        name: str,
        windows: Sequence[tuple[float, float]],
        clock: Callable[[], float],
        period_s: float | None = None,
    ) -> None:
        self.name = name
        self._windows = list(windows)
        self._clock = clock
        self._start = clock()
        self._period = period_s

    def is_active(self) -> bool:
        elapsed = self._clock() - self._start
        if self._period:
            elapsed %= self._period
        return any(start <= elapsed < end for start, end in self._windows)

    def close(self) -> None:
        """Nothing to release."""
