"""The learned fire/smoke verifier (`models/fire_smoke_v1.tflite`), two-stage and cheap.

Stage one proposes where to look, with no model: the whole frame, then crops around the largest
fire-coloured regions and the largest region that changed since the last analysed frame (a
drifting plume, a spreading fire). Stage two is a small CNN trained on public photos
(`training/fire/`) that scores each view for fire and for smoke separately; a frame's score per
class is its best view's. At most `1 + max_crops` invokes per analysed frame.

Why not the colour/flicker rules alone: on photos they never saw they raised fire on orange
objects, sunsets and beaches (issue 16). The colour cue is kept only to choose crops, where a
miss costs nothing (the whole frame is always scored) and a false candidate costs one invoke.

The output is the same `FireSmokeEvidence` the classical detector gives, so the alarm rule's
N-of-M persistence and GPIO corroboration apply unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge_models.fire_evidence import FireSmokeEvidence, box_area
from edge_models.runtime import ModelError, TfliteModel, shipped_file_sha256
from edge_models.zones import Box, crop_pixels

SHIPPED_MODEL = Path(__file__).resolve().parent / "models" / "fire_smoke_v1.tflite"
WHOLE: Box = (0.0, 0.0, 1.0, 1.0)


def shipped_sha256() -> str | None:
    """The sha256 of the model shipped with the package (None when it is not installed)."""
    return shipped_file_sha256(SHIPPED_MODEL)


@dataclass(frozen=True, slots=True)
class View:
    """One scored view of a frame: its box (normalized) and the fire and smoke probabilities."""

    box: Box
    fire: float
    smoke: float


class LearnedFireSmoke:
    """Whole frame plus candidate crops, each scored by the verifier; one per camera (holds the
    previous analysed frame for the change candidates, and a not thread-safe interpreter)."""

    def __init__(
        self,
        model: TfliteModel,
        fire_threshold: float = 0.5,
        smoke_threshold: float = 0.5,
        max_crops: int = 2,
        detect_fire: bool = True,
        detect_smoke: bool = True,
        proposal_width: int = 160,
    ) -> None:
        shape = model.input.shape
        if shape[3] != 3 or len(model.outputs) != 1 or model.outputs[0].shape[-1] != 2:
            raise ModelError(f"{model.path}: expected an RGB input and one output of 2 scores (fire, smoke)")
        self.model = model
        self.fire_threshold = fire_threshold
        self.smoke_threshold = smoke_threshold
        self.max_crops = max_crops
        self.detect_fire = detect_fire
        self.detect_smoke = detect_smoke
        self.proposal_width = proposal_width
        self._prev: np.ndarray | None = None
        self.last_views: tuple[View, ...] = ()

    @classmethod
    def load(
        cls, path: str | Path | None = None, sha256: str | None = None, threads: int = 1, **settings: float | int | bool
    ) -> "LearnedFireSmoke":
        """Load the model (the shipped one when `path` is None); ModelError when missing or altered."""
        model = TfliteModel(path if path is not None else SHIPPED_MODEL, threads=threads, sha256=sha256)
        return cls(model, **settings)  # type: ignore[arg-type]

    def score(self, bgr: np.ndarray, box: Box = WHOLE) -> View:
        """Fire and smoke probabilities of one region of a frame (the whole frame by default)."""
        iw, ih = self.model.input_size
        patch = cv2.resize(crop_pixels(bgr, box, 2), (iw, ih), interpolation=cv2.INTER_AREA)
        tensor = cv2.cvtColor(patch, cv2.COLOR_BGR2RGB).astype(self.model.input.dtype)[np.newaxis]
        out = self.model.invoke(tensor)[0].reshape(-1)
        return View(box, float(out[0]), float(out[1]))

    def candidates(self, bgr: np.ndarray) -> list[Box]:
        """Up to `max_crops` square crops around fire-coloured or changed regions, largest first."""
        if self.max_crops <= 0:
            return []
        h, w = bgr.shape[:2]
        pw = min(self.proposal_width, w)
        small = cv2.resize(bgr, (pw, max(1, round(h * pw / w))), interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
        b, g, r = (small[..., i].astype(np.int16) for i in range(3))
        fire_mask = ((r > g) & (g >= b) & (r >= 170) & (hsv[..., 0] <= 35) & (hsv[..., 1] >= 50)).astype(np.uint8)
        grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)
        change = None
        if self._prev is not None and self._prev.shape == grey.shape:
            change = (cv2.absdiff(grey, self._prev) >= 12).astype(np.uint8)
        self._prev = grey
        found: list[tuple[float, Box]] = []
        for mask in (fire_mask, change):
            if mask is None:
                continue
            mask = cv2.dilate(mask, np.ones((5, 5), np.uint8))
            n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
            sh, sw = mask.shape
            for j in range(1, n):
                x, y, bw, bh, area = (int(v) for v in stats[j])
                if area < 0.001 * mask.size or area > 0.6 * mask.size:
                    continue
                found.append((area / mask.size, _square(x / sw, y / sh, (x + bw) / sw, (y + bh) / sh, w / h)))
        found.sort(key=lambda t: -t[0])
        chosen: list[Box] = []
        for _, box in found:
            if all(_overlap(box, c) < 0.5 for c in chosen):
                chosen.append(box)
            if len(chosen) == self.max_crops:
                break
        return chosen

    def analyse(self, bgr: np.ndarray) -> FireSmokeEvidence:
        """Evidence for one analysed frame: the best view's scores per class, and the views that pass."""
        views = [self.score(bgr)] + [self.score(bgr, box) for box in self.candidates(bgr)]
        self.last_views = tuple(views)
        fs = max(v.fire for v in views) if self.detect_fire else 0.0
        ss = max(v.smoke for v in views) if self.detect_smoke else 0.0
        fire_boxes = tuple(v.box for v in views if v.fire >= self.fire_threshold) if self.detect_fire else ()
        smoke_boxes = tuple(v.box for v in views if v.smoke >= self.smoke_threshold) if self.detect_smoke else ()
        return FireSmokeEvidence.from_boxes(fire_boxes, smoke_boxes, fs, ss, "learned")


def _square(x1: float, y1: float, x2: float, y2: float, aspect: float, grow: float = 1.6, min_side: float = 0.2) -> Box:
    """A square (in pixels) box around a region, grown for context, at least `min_side` of the
    frame's shorter side, kept inside the frame. `aspect` is width / height of the frame."""
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    side_px = max((x2 - x1) * aspect, y2 - y1, min_side * min(aspect, 1.0)) * grow  # in units of frame height
    half_w, half_h = min(0.5, side_px / aspect / 2), min(0.5, side_px / 2)
    cx, cy = min(max(cx, half_w), 1 - half_w), min(max(cy, half_h), 1 - half_h)
    return (cx - half_w, cy - half_h, cx + half_w, cy + half_h)


def _overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller box."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return ix * iy / max(1e-9, min(box_area(a), box_area(b)))
