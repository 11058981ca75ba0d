"""Motion gating: run the expensive models only when the picture has changed.

A small blurred grey copy of each frame is compared with the copy of the last frame that was
analysed (not the previous frame), so slow changes add up until they count, and a forced frame
every `force_every_s` catches anything the gate could miss (a person standing still in the
water, a slowly spreading smoke). The comparison costs about a tenth of a millisecond at the
default 160-pixel width, against several milliseconds for one detector run.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True, slots=True)
class MotionDecision:
    """Whether to analyse this frame, and why: `changed` is the fraction of changed pixels."""

    run: bool
    changed: float
    forced: bool


class MotionGate:
    """Decides per frame whether the models should run."""

    def __init__(
        self,
        enabled: bool = True,
        pixel_threshold: int = 20,
        min_changed: float = 0.003,
        force_every_s: float = 2.0,
        width: int = 160,
    ) -> None:
        self.enabled = enabled
        self.pixel_threshold = pixel_threshold
        self.min_changed = min_changed
        self.force_every_s = force_every_s
        self.width = width
        self._reference: np.ndarray | None = None
        self._last_run: float | None = None

    def _small(self, bgr: np.ndarray) -> np.ndarray:
        h, w = bgr.shape[:2]
        size = (self.width, max(1, int(round(h * self.width / w))))
        # INTER_LINEAR: INTER_AREA costs ~25 times more here; the blur below averages the noise out.
        grey = cv2.cvtColor(cv2.resize(bgr, size, interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2GRAY)
        return cv2.GaussianBlur(grey, (5, 5), 0)

    def check(self, bgr: np.ndarray, now: float) -> MotionDecision:
        """Compare with the last analysed frame; a `run` decision makes this frame the reference."""
        if not self.enabled:
            self._last_run = now
            return MotionDecision(True, 1.0, False)
        small = self._small(bgr)
        ref = self._reference
        if ref is None or ref.shape != small.shape:
            changed, forced = 1.0, True
        else:
            diff = cv2.absdiff(small, ref)
            changed = float(np.count_nonzero(diff > self.pixel_threshold)) / diff.size
            forced = self._last_run is None or now - self._last_run >= self.force_every_s
        run = forced or changed >= self.min_changed
        if run:
            self._reference = small
            self._last_run = now
        return MotionDecision(run, changed, forced and changed < self.min_changed)
