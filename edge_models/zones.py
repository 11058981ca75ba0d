"""Danger zones: polygons in normalized frame coordinates and who stands in them.

Coordinates are fractions of the frame (0..1), so a zone drawn on a snapshot stays right when
the camera's resolution or the stream (main or sub) changes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Point = tuple[float, float]
Box = tuple[float, float, float, float]


def point_in_polygon(p: Point, polygon: Sequence[Point]) -> bool:
    """Even-odd ray casting; points on an edge may fall either way (irrelevant at pixel scale)."""
    x, y = p
    inside = False
    n = len(polygon)
    for i in range(n):
        x1, y1 = polygon[i]
        x2, y2 = polygon[(i + 1) % n]
        if (y1 > y) != (y2 > y):
            cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < cross:
                inside = not inside
    return inside


def bottom_centre(box: Box) -> Point:
    """Where a standing person's feet are: the middle of the box's lower edge."""
    x1, _, x2, y2 = box
    return (x1 + x2) / 2, y2


def box_area(box: Box) -> float:
    x1, y1, x2, y2 = box
    return max(0.0, x2 - x1) * max(0.0, y2 - y1)


def crop_pixels(frame: np.ndarray, box: Box, min_px: int) -> np.ndarray:
    """The pixels of a normalized box of a frame, at least `min_px` on each side (a model resizes
    them to its input; a sliver of a pixel would not resize)."""
    h, w = frame.shape[:2]
    x1, y1 = int(box[0] * w), int(box[1] * h)
    x2, y2 = max(x1 + min_px, math.ceil(box[2] * w)), max(y1 + min_px, math.ceil(box[3] * h))
    return frame[y1:y2, x1:x2]


@dataclass(frozen=True, slots=True)
class Zone:
    """A polygon with the per-zone filters that decide whether a person box counts in it.

    `min_score` and `min_area` (fraction of the frame) drop far-away or doubtful boxes: a zone
    near the camera can demand big boxes while a far bank accepts small ones.
    """

    id: str
    polygon: tuple[Point, ...]
    min_score: float = 0.0
    min_area: float = 0.0

    def admits(self, box: Box, score: float) -> bool:
        """True when a box of this score counts as a person in the zone."""
        return score >= self.min_score and box_area(box) >= self.min_area and point_in_polygon(bottom_centre(box), self.polygon)

    def pixels(self, width: int, height: int) -> list[tuple[int, int]]:
        """The polygon in pixel coordinates of a frame of this size (for drawing)."""
        return [(int(round(x * (width - 1))), int(round(y * (height - 1)))) for x, y in self.polygon]
