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
    """A detection in frame coordinates, with the region it came from and whether it touches a
    region edge inside the frame (then it may be a cut-off part of a person)."""

    det: Detection
    region: int
    cut: bool


def to_frame(dets: Iterable[Detection], rect: Rect, width: int, height: int, region: int, edge: float = 0.03) -> list[RegionDetection]:
    """Detections normalized to a region, mapped to normalized frame coordinates; a box within
    `edge` (fraction of the region) of a region side that lies inside the frame is marked cut."""
    out = []
    for d in dets:
        x1, y1, x2, y2 = d.box
        px = (rect.x + x1 * rect.w, rect.y + y1 * rect.h, rect.x + x2 * rect.w, rect.y + y2 * rect.h)
        cut = (
            (x1 <= edge and rect.x > 0) or (y1 <= edge and rect.y > 0)
            or (x2 >= 1 - edge and rect.x2 < width) or (y2 >= 1 - edge and rect.y2 < height)
        )
        box = (px[0] / width, px[1] / height, px[2] / width, px[3] / height)
        out.append(RegionDetection(Detection(box, d.score, d.class_id, d.label), region, cut))
    return out


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> tuple[float, float]:
    """(IoU, intersection over the smaller box)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    sa = (a[2] - a[0]) * (a[3] - a[1])
    sb = (b[2] - b[0]) * (b[3] - b[1])
    union = sa + sb - inter
    return (inter / union if union > 0 else 0.0, inter / min(sa, sb) if min(sa, sb) > 0 else 0.0)


def _halves(a: Sequence[float], b: Sequence[float], aligned: float = 0.6) -> bool:
    """Two boxes that touch and line up along one axis: the two parts of one cut-off object."""
    ix = min(a[2], b[2]) - max(a[0], b[0])
    iy = min(a[3], b[3]) - max(a[1], b[1])
    if ix <= 0 or iy <= 0:
        return False
    return iy >= aligned * min(a[3] - a[1], b[3] - b[1]) or ix >= aligned * min(a[2] - a[0], b[2] - b[0])


def merge_regions(found: Sequence[RegionDetection], iou_threshold: float = 0.5, cut_overlap: float = 0.5) -> list[Detection]:
    """One box per object across overlapping regions, best first.

    Two boxes of the same label are the same object when their IoU reaches `iou_threshold`
    (plain NMS: the better score stays), or when they come from different regions, one of them is
    cut off by its region's edge, and they share `cut_overlap` of the smaller box (the part is
    merged into the whole: the union of the boxes), or both are cut and they overlap side by side
    (two halves: their union), so a person split across two tiles is one box and not two.
    """
    kept: list[tuple[list[float], RegionDetection]] = []
    for rd in sorted(found, key=lambda r: r.det.score, reverse=True):
        box = rd.det.box
        for k_box, k in kept:
            if k.det.label != rd.det.label:
                continue
            iou, ios = _overlaps(tuple(k_box), box)  # type: ignore[arg-type]
            if iou >= iou_threshold:
                break
            if rd.region != k.region and ((rd.cut or k.cut) and ios >= cut_overlap or rd.cut and k.cut and _halves(k_box, box)):
                k_box[:] = [min(k_box[0], box[0]), min(k_box[1], box[1]), max(k_box[2], box[2]), max(k_box[3], box[3])]
                break
        else:
            kept.append((list(box), rd))
    return [Detection((b[0], b[1], b[2], b[3]), k.det.score, k.det.class_id, k.det.label) for b, k in kept]
