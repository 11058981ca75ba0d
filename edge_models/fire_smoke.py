"""Fire and smoke seen by a camera, without a trained model (none with a usable licence exists).

Classical cues, cheap enough for a Pi at a few frames a second:

- fire: pixels that are bright, red-dominant and orange-to-yellow (RGB order R > G > B, YCrCb
  chroma Cr - Cb, HSV hue/saturation/value), grouped into regions; a region counts when it is
  big enough, has a bright yellow-white core (flames do, red clothes and brick walls do not) and
  flickers: the brightness of its pixels varies over the last few analysed frames. Flicker is
  what rejects static fire-coloured things (traffic cones, brick, a yellow jacket) in real video.
- smoke: a large, smooth (low local contrast), greyish (low chroma) region with a soft
  border, a good part of whose pixels differ softly from the background (the per-pixel median
  of samples over the last few seconds, corrected for a global brightness change such as auto
  exposure): something grey drifting over the scene. Static grey things (asphalt, walls,
  overcast sky) do not change; people crossing asphalt cause hard changes, which are masked
  with their surroundings; sharp-edged grey objects fail the soft-border test.
- growth of either region over the window is measured and reported (it is what makes a
  spreading fire an emergency), not required.
- monochrome frames (IR night mode) carry no colour, so both cues are off and the evidence says so.

The per-frame evidence (`edge_models.fire_evidence.FireSmokeEvidence`) feeds
`gateway.rules.vision_fire`, which needs it on N of M frames. An operator-supplied TFLite
classifier or detector (`ModelFireSmoke`) produces the same evidence type, so the rule does not
care where it came from.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from edge_models.classifier import ImageClassifier
from edge_models.detector import SsdDetector
from edge_models.fire_evidence import FireSmokeEvidence
from edge_models.zones import Box


@dataclass
class ClassicalFireSmoke:
    """Colour, flicker and change cues over a short history of analysed frames.

    `analyse` is called on every analysed frame in order, with its time: the smoke background
    is the per-pixel median of luma samples taken every `background_every_s`, so people walking
    through (a transient) do not enter it while a plume that stays for seconds stands out.
    """

    detect_fire: bool = True
    detect_smoke: bool = True
    fire_min_area: float = 0.002
    fire_min_core: float = 0.05
    fire_min_flicker: float = 6.0
    smoke_min_area: float = 0.02
    smoke_max_chroma: int = 40
    smoke_min_change: float = 6.0
    smoke_max_edge: float = 30.0
    smoke_min_changing: float = 0.3
    width: int = 320
    flicker_frames: int = 5
    background_samples: int = 7
    background_every_s: float = 0.5
    _lumas: deque = field(init=False, repr=False, default_factory=deque)
    _samples: deque = field(init=False, repr=False, default_factory=deque)
    _last_sample: float | None = field(init=False, repr=False, default=None)
    _background: np.ndarray | None = field(init=False, repr=False, default=None)
    _fire_areas: deque = field(init=False, repr=False, default_factory=lambda: deque(maxlen=10))
    _smoke_areas: deque = field(init=False, repr=False, default_factory=lambda: deque(maxlen=10))

    def __post_init__(self) -> None:
        self._lumas = deque(maxlen=self.flicker_frames)
        self._samples = deque(maxlen=self.background_samples)

    def reset(self) -> None:
        """Forget the history (the frame size changed, or the camera was reopened)."""
        self._lumas.clear()
        self._samples.clear()
        self._last_sample = None
        self._background = None
        self._fire_areas.clear()
        self._smoke_areas.clear()

    def analyse(self, bgr: np.ndarray, now: float) -> FireSmokeEvidence:
        """Evidence for one frame taken at `now` (seconds, any monotonic origin)."""
        h, w = bgr.shape[:2]
        small = cv2.resize(bgr, (self.width, max(1, int(round(h * self.width / w)))), interpolation=cv2.INTER_AREA)
        luma = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)
        if self._lumas and self._lumas[-1].shape != luma.shape:
            self.reset()
        self._lumas.append(luma)
        b, g, r = (small[..., i].astype(np.int16) for i in range(3))
        chroma = np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)
        if float(np.median(chroma[::4, ::4])) < 6:
            self._sample(luma, now)
            return FireSmokeEvidence(monochrome=True)
        fire = self._fire(small, r, g, b) if self.detect_fire else FireSmokeEvidence()
        smoke = self._smoke(small, luma, chroma) if self.detect_smoke else FireSmokeEvidence()
        self._sample(luma, now)
        return FireSmokeEvidence(
            fire=fire.fire,
            smoke=smoke.smoke,
            fire_boxes=fire.fire_boxes,
            smoke_boxes=smoke.smoke_boxes,
            fire_area=fire.fire_area,
            smoke_area=smoke.smoke_area,
            flicker=fire.flicker,
            growth=max(fire.growth, smoke.growth),
            fire_score=fire.fire_score,
            smoke_score=smoke.smoke_score,
        )

    def _sample(self, luma: np.ndarray, now: float) -> None:
        if self._last_sample is None or now - self._last_sample >= self.background_every_s or now < self._last_sample:
            self._samples.append(luma)
            self._last_sample = now
            self._background = None

    def _fire(self, small: np.ndarray, r: np.ndarray, g: np.ndarray, b: np.ndarray) -> FireSmokeEvidence:
        hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
        ycc = cv2.cvtColor(small, cv2.COLOR_BGR2YCrCb).astype(np.int16)
        hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
        mask = (
            (r > g) & (g > b) & (r >= 200)
            & (ycc[..., 1] - ycc[..., 2] >= 40)
            & (hue <= 35) & (sat >= 60) & (val >= 200)
        ).astype(np.uint8)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
        core = (r >= 235) & (g >= 190) & (b <= 200)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        big = n > 1 and int(stats[1:, cv2.CC_STAT_AREA].max()) >= self.fire_min_area * mask.size
        spread = np.std(np.stack(self._lumas), axis=0) if big and len(self._lumas) >= 3 else None
        total = float(mask.size)
        hh, ww = mask.shape
        boxes: list[Box] = []
        area = flicker = score = 0.0
        for j in range(1, n):
            x, y, bw, bh, a = (int(v) for v in stats[j])
            frac = a / total
            if frac < self.fire_min_area or spread is None:
                continue
            region = labels[y : y + bh, x : x + bw] == j
            core_ratio = float(core[y : y + bh, x : x + bw][region].mean())
            fl = float(np.median(spread[y : y + bh, x : x + bw][region]))
            if core_ratio < self.fire_min_core or fl < self.fire_min_flicker:
                continue
            boxes.append((x / ww, y / hh, (x + bw) / ww, (y + bh) / hh))
            area += frac
            flicker = max(flicker, fl)
            score = max(score, min(1.0, 0.4 + core_ratio + fl / 40.0 + frac * 2))
        return FireSmokeEvidence(
            fire=bool(boxes), fire_boxes=tuple(boxes), fire_area=area, flicker=flicker,
            growth=_growth(self._fire_areas, area), fire_score=score,
        )

    def _smoke(self, small: np.ndarray, luma: np.ndarray, chroma: np.ndarray) -> FireSmokeEvidence:
        if len(self._samples) < 2:
            return FireSmokeEvidence(growth=_growth(self._smoke_areas, 0.0))
        if self._background is None:
            self._background = np.median(np.stack(self._samples), axis=0)
        background = self._background
        lum, bg = luma[::4, ::4], background[::4, ::4]
        lit = bg >= 30
        gain = float(np.median(lum[lit] / bg[lit])) if np.any(lit) else 1.0
        diff = np.abs(luma - background * gain)
        hard = cv2.dilate((diff >= 40).astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)
        changing = (diff >= self.smoke_min_change) & ~hard
        blurred = cv2.GaussianBlur(luma, (5, 5), 0)
        texture = cv2.blur(np.abs(cv2.Laplacian(blurred, cv2.CV_32F, ksize=3)), (9, 9))
        edges = np.hypot(cv2.Sobel(blurred, cv2.CV_32F, 1, 0), cv2.Sobel(blurred, cv2.CV_32F, 0, 1))
        bright = small.max(axis=2)
        mask = ((chroma <= self.smoke_max_chroma) & (bright >= 80) & (bright <= 235) & (texture <= 12.0)).astype(np.uint8)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8))
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        total = float(mask.size)
        hh, ww = mask.shape
        boxes: list[Box] = []
        area = score = 0.0
        ring = np.ones((3, 3), np.uint8)
        for j in range(1, n):
            x, y, bw, bh, a = (int(v) for v in stats[j])
            frac = a / total
            if frac < self.smoke_min_area:
                continue
            region = (labels[y : y + bh, x : x + bw] == j).astype(np.uint8)
            border = cv2.morphologyEx(region, cv2.MORPH_GRADIENT, ring).astype(bool)
            sharpness = float(np.median(edges[y : y + bh, x : x + bw][border]))
            moving = float(changing[y : y + bh, x : x + bw][region.astype(bool)].mean())
            if sharpness > self.smoke_max_edge or moving < self.smoke_min_changing:
                continue
            boxes.append((x / ww, y / hh, (x + bw) / ww, (y + bh) / hh))
            area += frac
            score = max(score, min(1.0, 0.3 + moving + frac))
        return FireSmokeEvidence(
            smoke=bool(boxes), smoke_boxes=tuple(boxes), smoke_area=area,
            growth=_growth(self._smoke_areas, area), smoke_score=score,
        )


def _growth(history: deque, area: float) -> float:
    """Area now over the smallest non-zero area of the recent window (1.0 when nothing grew)."""
    history.append(area)
    earlier = [a for a in history if a > 0]
    if area <= 0 or not earlier:
        return 1.0
    return min(area / min(earlier), 100.0)


class ModelFireSmoke:
    """An operator-supplied TFLite classifier or detector, read as fire/smoke evidence.

    The labels that mean fire and smoke come from the config, since every model names them
    differently (`fire`, `flame`, `smoke`, `wildfire` ...).
    """

    def __init__(
        self,
        model: ImageClassifier | SsdDetector,
        fire_labels: tuple[str, ...],
        smoke_labels: tuple[str, ...],
        min_score: float,
    ) -> None:
        self.model = model
        self.fire_labels = {s.lower() for s in fire_labels}
        self.smoke_labels = {s.lower() for s in smoke_labels}
        self.min_score = min_score

    def analyse(self, bgr: np.ndarray) -> FireSmokeEvidence:
        if isinstance(self.model, ImageClassifier):
            probs = {k.lower(): v for k, v in self.model.classify(bgr).items()}
            fs = max((probs.get(k, 0.0) for k in self.fire_labels), default=0.0)
            ss = max((probs.get(k, 0.0) for k in self.smoke_labels), default=0.0)
            whole = ((0.0, 0.0, 1.0, 1.0),)
            return FireSmokeEvidence(
                fire=fs >= self.min_score,
                smoke=ss >= self.min_score,
                fire_boxes=whole if fs >= self.min_score else (),
                smoke_boxes=whole if ss >= self.min_score else (),
                fire_score=fs,
                smoke_score=ss,
                source="model",
            )
        dets = self.model.detect(bgr, self.min_score)
        fire = [d for d in dets if d.label.lower() in self.fire_labels]
        smoke = [d for d in dets if d.label.lower() in self.smoke_labels]
        return FireSmokeEvidence(
            fire=bool(fire),
            smoke=bool(smoke),
            fire_boxes=tuple(d.box for d in fire),
            smoke_boxes=tuple(d.box for d in smoke),
            fire_area=sum(d.area for d in fire),
            smoke_area=sum(d.area for d in smoke),
            fire_score=max((d.score for d in fire), default=0.0),
            smoke_score=max((d.score for d in smoke), default=0.0),
            source="model",
        )
