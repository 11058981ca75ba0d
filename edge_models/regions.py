"""Regions at native resolution: zone crops, overlapping tiles, boxes mapped back, duplicates merged.

Why: a 300x300 detector fed a whole 1080p frame shrinks a person 40 px tall to 11 px, below what
SSD MobileNet finds. Cropping each armed zone's bounding box from the full-resolution frame and
covering it with tiles near the model's input size keeps people at their native size (the way
Frigate feeds its detector motion regions rather than whole frames). Everything here is pixel
geometry, without models or time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from edge_models.detector import Detection

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Rect:
    """A pixel rectangle of the frame: left, top, width, height."""

    x: int
    y: int
    w: int
    h: int

    @property
    def x2(self) -> int:
        return self.x + self.w

    @property
    def y2(self) -> int:
        return self.y + self.h


def zone_crop(polygon: Sequence[Point], width: int, height: int, margin: float) -> Rect:
    """The bounding box of a normalized polygon in pixels, grown by `margin` (fraction of the
    frame's larger side) on every side so people standing on the zone's edge are whole."""
    xs = [p[0] for p in polygon]
    ys = [p[1] for p in polygon]
    m = margin * max(width, height)
    x1 = max(0, int(math.floor(min(xs) * width - m)))
    y1 = max(0, int(math.floor(min(ys) * height - m)))
    x2 = min(width, int(math.ceil(max(xs) * width + m)))
    y2 = min(height, int(math.ceil(max(ys) * height + m)))
    return Rect(x1, y1, max(1, x2 - x1), max(1, y2 - y1))


def _starts(start: int, length: int, tile: int, overlap: float) -> list[int]:
    """Tile origins along one axis: evenly spread so neighbours overlap by at least `overlap`."""
    if length <= tile:
        return [start]
    step = tile * (1.0 - overlap)
    n = int(math.ceil((length - tile) / step)) + 1
    span = length - tile
    return [start + int(round(i * span / (n - 1))) for i in range(n)]


def tile_rects(crop: Rect, tile: int, overlap: float) -> list[Rect]:
    """Square tiles of side `tile` covering `crop`, neighbours sharing at least `overlap` of a
    tile; a crop no larger than a tile is one region (itself)."""
    xs = _starts(crop.x, crop.w, tile, overlap)
    ys = _starts(crop.y, crop.h, tile, overlap)
    return [Rect(x, y, min(tile, crop.w), min(tile, crop.h)) for y in ys for x in xs]


@dataclass(frozen=True, slots=True)
class RegionDetection:
    """A detection in frame coordinates, with the region it came from and the sides of that region
    it touches inside the frame ("l", "t", "r", "b"): there it may be a cut-off part of a person."""

    det: Detection
    region: int
    sides: str = ""

    @property
    def cut(self) -> bool:
        return bool(self.sides)


def to_frame(dets: Iterable[Detection], rect: Rect, width: int, height: int, region: int, edge: float = 0.03) -> list[RegionDetection]:
    """Detections normalized to a region, mapped to normalized frame coordinates; a box within
    `edge` (fraction of the region) of a region side that lies inside the frame is cut there."""
    out = []
    for d in dets:
        x1, y1, x2, y2 = d.box
        px = (rect.x + x1 * rect.w, rect.y + y1 * rect.h, rect.x + x2 * rect.w, rect.y + y2 * rect.h)
        sides = "".join(side for side, on in (
            ("l", x1 <= edge and rect.x > 0), ("t", y1 <= edge and rect.y > 0),
            ("r", x2 >= 1 - edge and rect.x2 < width), ("b", y2 >= 1 - edge and rect.y2 < height)) if on)
        box = (px[0] / width, px[1] / height, px[2] / width, px[3] / height)
        out.append(RegionDetection(Detection(box, d.score, d.class_id, d.label), region, sides))
    return out


def _overlaps(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """(IoU, intersection over the smaller box)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    sa = _area(a)
    sb = _area(b)
    union = sa + sb - inter
    return (inter / union if union > 0 else 0.0, inter / min(sa, sb) if min(sa, sb) > 0 else 0.0)


def _area(b: Sequence[float]) -> float:
    return (b[2] - b[0]) * (b[3] - b[1])


def _halves(a: Sequence[float], b: Sequence[float], aligned: float = 0.6) -> bool:
    """Two boxes that touch and line up along one axis: the two parts of one cut-off object."""
    ix = min(a[2], b[2]) - max(a[0], b[0])
    iy = min(a[3], b[3]) - max(a[1], b[1])
    if ix <= 0 or iy <= 0:
        return False
    return iy >= aligned * min(a[3] - a[1], b[3] - b[1]) or ix >= aligned * min(a[2] - a[0], b[2] - b[0])


_FACING = {"l": "r", "r": "l", "t": "b", "b": "t"}


def _facing(a: str, b: str) -> bool:
    """A cut side of one box faces a cut side of the other (the seam both were cut at)."""
    return any(_FACING[s] in b for s in a)


@dataclass(slots=True)
class _Kept:
    box: list[float]
    rd: RegionDetection
    sides: str


def merge_regions(found: Sequence[RegionDetection], iou_threshold: float = 0.4, cut_overlap: float = 0.5, growth: float = 1.6) -> list[Detection]:
    """One box per object across overlapping regions, best first.

    Two boxes of the same label are the same object when their IoU reaches `iou_threshold`
    (plain NMS: the better score stays). Across regions, a box cut off by its region's edge that
    shares `cut_overlap` of the smaller box with another is a part of it: the box seen whole is
    kept (not their union: a union joined neighbouring swimmers into one box that matched no one,
    and capped recall at 0.85 on the lifeguard photos whatever the threshold). Two boxes both cut,
    at sides facing each other, lined up and touching, are the two halves of one person: their
    union, unless it would be more than `growth` times their areas together.
    """
    kept: list[_Kept] = []
    for rd in sorted(found, key=lambda r: r.det.score, reverse=True):
        box = rd.det.box
        for k in kept:
            if k.rd.det.label != rd.det.label:
                continue
            iou, ios = _overlaps(k.box, box)
            if rd.region != k.rd.region and (rd.sides or k.sides) and ios >= cut_overlap:
                if k.sides and not rd.sides:  # the kept one was the part: take the whole's box
                    k.box[:], k.sides = list(box), ""
                break
            if iou >= iou_threshold:
                break
            if rd.region == k.rd.region:
                continue
            union = [min(k.box[0], box[0]), min(k.box[1], box[1]), max(k.box[2], box[2]), max(k.box[3], box[3])]
            if _facing(rd.sides, k.sides) and _halves(k.box, box) and _area(union) <= growth * (_area(k.box) + _area(box)):
                k.box[:], k.sides = union, "".join(s for s in k.sides if s in rd.sides)
                break
        else:
            kept.append(_Kept(list(box), rd, rd.sides))
    return [Detection((k.box[0], k.box[1], k.box[2], k.box[3]), k.rd.det.score, k.rd.det.class_id, k.rd.det.label) for k in kept]
