"""Which regions the detector runs on this frame, within a budget, and the people they hold.

Why a budget: a water zone across a 1080p frame is a dozen or more tiles, and running all of them
on every analysed frame would cost a dozen invokes where a quiet pond needs none. A coarse layer of
regions about as high as the zone's box (at least two tiles) finds the people too big for a tile. Regions whose
picture changed since their last visit share the budget with the most overdue ones; every tile is visited at least
every `revisit_s` while the budget allows (a person floating still must not be forgotten); a tile not visited this frame keeps
what its last visit found (an unchanged picture shows the same people, as the motion gate
assumes for whole frames).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np

from edge_models.detector import Detection, SsdDetector
from edge_models.regions import Point, Rect, RegionDetection, merge_regions, tile_rects, to_frame, zone_crop

Mode = Literal["full", "zones", "tiles"]


@dataclass(frozen=True, slots=True)
class RegionSettings:
    """How a camera's frames are cut for the detector (see gateway.config.regions.RegionsConfig)."""

    mode: Mode = "full"
    tile: int = 320
    overlap: float = 0.25
    margin: float = 0.02
    max_invokes: int = 6
    revisit_s: float = 2.0
    pixel_threshold: int = 20
    min_changed: float = 0.001
    motion_width: int = 480
    far_band: float = 0.0
    far_tile: int = 64
    far_min_score: float | None = None

    @property
    def has_far_band(self) -> bool:
        """Tiles with a far band: only then are there far-band regions (and a far detector worth loading)."""
        return self.mode == "tiles" and self.far_band > 0

    @property
    def overdue_share(self) -> int:
        """Invokes a frame kept for the most overdue regions while tiles move (the rest go to moving tiles)."""
        return max(1, self.max_invokes // 2)


@dataclass
class _Region:
    rect: Rect
    far: bool = False
    last_visit: float | None = None
    reference: np.ndarray | None = None
    found: list[RegionDetection] = field(default_factory=list)


class RegionPlanner:
    """The regions of one camera and their visit schedule (one per camera: it keeps state)."""

    def __init__(self, settings: RegionSettings, polygons: Sequence[Sequence[Point]] = ()) -> None:
        self.settings = settings
        self.polygons = [tuple(p) for p in polygons]
        self._size: tuple[int, int] | None = None
        self.regions: list[_Region] = []

    def layout(self, width: int, height: int) -> list[Rect]:
        """The regions of a frame of this size (recomputed when the size changes)."""
        if self._size != (width, height):
            self._size = (width, height)
            far = self._far_rects(width, height)
            marked = set(far)
            self.regions = [_Region(r, r in marked) for r in dict.fromkeys(self._rects(width, height) + far)]
        return [r.rect for r in self.regions]

    def _rects(self, width: int, height: int) -> list[Rect]:
        s = self.settings
        whole = Rect(0, 0, width, height)
        if s.mode == "full":
            return [whole]
        crops = [zone_crop(p, width, height, s.margin) for p in self.polygons] or [whole]
        if s.mode == "zones":
            return list(dict.fromkeys(crops))
        rects: list[Rect] = []
        for crop in crops:
            tiles = tile_rects(crop, s.tile, s.overlap)
            if len(tiles) > 1:
                # A coarse layer first: a swimmer close to the camera is taller than a tile. Its
                # regions are about as high as the crop, so the squeeze to the model keeps shapes.
                rects += tile_rects(crop, max(2 * s.tile, min(crop.w, crop.h)), s.overlap)
            rects += tiles
        return list(dict.fromkeys(rects))

    def _far_rects(self, width: int, height: int) -> list[Rect]:
        """The far water at the top of each zone's box, where a person is 15-30 px: finer tiles
        zoomed up to the model input, so that person reaches the size the detector finds."""
        s = self.settings
        if not s.has_far_band:
            return []
        rects: list[Rect] = []
        for crop in [zone_crop(p, width, height, s.margin) for p in self.polygons]:
            band = Rect(crop.x, crop.y, crop.w, max(1, int(round(crop.h * s.far_band))))
            rects += tile_rects(band, s.far_tile, s.overlap)
        return rects

    def _thumb(self, bgr: np.ndarray) -> tuple[np.ndarray, float]:
        h, w = bgr.shape[:2]
        scale = min(1.0, self.settings.motion_width / w)
        size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
        # INTER_LINEAR and a blur, as the motion gate: INTER_AREA costs many times more on 1080p.
        grey = cv2.cvtColor(cv2.resize(bgr, size, interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2GRAY)
        return cv2.GaussianBlur(grey, (5, 5), 0), scale

    def plan(self, bgr: np.ndarray, now: float) -> list[int]:
        """Indices of the regions to run on this frame; marks them visited at `now`.

        For tiles this is asked on every frame, before the motion gate's answer counts: a far
        swimmer changes too few pixels of the whole frame for the gate, but plenty of a tile's.
        """
        h, w = bgr.shape[:2]
        self.layout(w, h)
        s = self.settings
        if s.mode != "tiles":
            for r in self.regions:
                r.last_visit = now
            return list(range(len(self.regions)))
        thumb, scale = self._thumb(bgr)
        overdue: list[tuple[float, int]] = []
        moving: list[tuple[float, int]] = []
        parts: dict[int, np.ndarray] = {}
        for i, r in enumerate(self.regions):
            q = r.rect
            part = thumb[int(q.y * scale):max(int(q.y * scale) + 1, int(q.y2 * scale)), int(q.x * scale):max(int(q.x * scale) + 1, int(q.x2 * scale))]
            parts[i] = part
            if r.last_visit is None or r.reference is None or r.reference.shape != part.shape:
                overdue.append((float("-inf"), i))
            elif now - r.last_visit >= s.revisit_s:
                overdue.append((r.last_visit, i))
            else:
                changed = float(np.count_nonzero(cv2.absdiff(part, r.reference) > s.pixel_threshold)) / part.size
                if changed >= s.min_changed:
                    moving.append((-changed, i))
        # The most overdue get at least half the budget, moving tiles the rest: with a far band
        # there can be more tiles than the budget revisits in revisit_s, and a swimmer crossing a
        # tile must not wait behind a queue of overdue still water.
        late = [i for _, i in sorted(overdue)]
        share = s.overdue_share
        chosen = (late[:share] + [i for _, i in sorted(moving)] + late[share:])[: s.max_invokes]
        for i in chosen:
            self.regions[i].last_visit = now
            self.regions[i].reference = parts[i].copy()
        return chosen


class RegionDetector:
    """Runs the detector on the planned regions and merges what every region last saw."""

    def __init__(self, detector: SsdDetector, planner: RegionPlanner, far_detector: SsdDetector | None = None) -> None:
        self.detector = detector
        self.far_detector = far_detector or detector  # the far band's tiles (the swimmer head trained for them)
        self.planner = planner
        self.last_invokes = 0

    def detect(
        self, bgr: np.ndarray, now: float, min_score: float, labels: frozenset[str] | None = None, chosen: list[int] | None = None
    ) -> list[Detection]:
        """People (or `labels`) of the frame in frame coordinates, best first; `chosen` regions
        (default: what the planner picks now) are run, the others keep what they last found."""
        h, w = bgr.shape[:2]
        if chosen is None:
            chosen = self.planner.plan(bgr, now)
        for i in chosen:
            region = self.planner.regions[i]
            q = region.rect
            crop = bgr[q.y:q.y2, q.x:q.x2]
            if region.far:
                far_score = self.planner.settings.far_min_score
                found = self.far_detector.detect(crop, min_score if far_score is None else far_score)
            else:
                found = self.detector.detect(crop, min_score)
            if labels is not None:
                found = [d for d in found if d.label in labels]
            region.found = to_frame(found, q, w, h, i)
        self.last_invokes = len(chosen)
        if self.planner.settings.mode == "full":
            return [rd.det for rd in self.planner.regions[0].found]
        return merge_regions([rd for r in self.planner.regions for rd in r.found])
