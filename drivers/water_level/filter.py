"""Echo filter for ultrasonic distances: a median over the last frames, far outliers left out.

Reeds, floating debris and waves give single short or long echoes. The median of the last
`window` samples ignores them; samples farther than `max_jump` from that median are also left
out of the value and counted. Every sample stays in the window, so a real change of level (a
flash flood) takes over as soon as it makes up half the window; the filter never locks onto an
old value.
"""

from __future__ import annotations

import statistics
from collections import deque


class MedianFilter:
    """Median of the inliers among the last `window` samples."""

    def __init__(self, window: int = 5, max_jump: float = 100.0) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        if max_jump <= 0:
            raise ValueError("max_jump must be positive")
        self._samples: deque[float] = deque(maxlen=window)
        self._max_jump = max_jump
        self.outliers = 0

    def add(self, sample: float) -> bool:
        """Add a sample; returns False (and counts it) when it is an outlier against the window."""
        outlier = bool(self._samples) and abs(sample - statistics.median(self._samples)) > self._max_jump
        self._samples.append(sample)
        if outlier:
            self.outliers += 1
        return not outlier

    def value(self) -> float | None:
        """The filtered value, or None before the first sample."""
        if not self._samples:
            return None
        middle = statistics.median(self._samples)
        inliers = [s for s in self._samples if abs(s - middle) <= self._max_jump]
        return statistics.median(inliers) if inliers else middle  # even window split in two clusters

    def clear(self) -> None:
        """Forget the window (after a reconnect the old samples say nothing about now)."""
        self._samples.clear()

    def __len__(self) -> int:
        return len(self._samples)
