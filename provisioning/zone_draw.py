"""Drawing danger zones on a frame, so a technician can check a polygon by eye."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

Point = tuple[float, float]
RED = (40, 40, 230)
YELLOW = (0, 210, 255)
# Zones of one camera each in their own colour (BGR), far apart in hue, so a report reader tells
# "deep water" from "weir" at a glance; boxes of people found are drawn in white on a dark edge.
PALETTE = ((40, 40, 230), (230, 120, 20), (40, 180, 40), (200, 40, 200), (0, 150, 255), (180, 180, 0), (120, 60, 160), (60, 120, 120))
BOX = (255, 255, 255)


def zone_colour(index: int) -> tuple[int, int, int]:
    """The colour of the index-th zone of a camera (the palette repeats after eight)."""
    return PALETTE[index % len(PALETTE)]


def to_pixels(points: Sequence[Point], width: int, height: int) -> np.ndarray:
    """Normalized (0..1) points as integer pixel coordinates of a width x height frame."""
    return np.array([[int(round(x * (width - 1))), int(round(y * (height - 1)))] for x, y in points], dtype=np.int32)


def _label(image: np.ndarray, text: str, at: tuple[int, int], colour: tuple[int, int, int]) -> None:
    scale = max(0.5, image.shape[1] / 1200)
    thick = max(1, int(round(scale * 2)))
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    x = min(max(0, at[0]), image.shape[1] - w - 4)
    y = min(max(h + 4, at[1]), image.shape[0] - base - 2)
    cv2.rectangle(image, (x, y - h - 4), (x + w + 4, y + base), colour, -1)
    cv2.putText(image, text, (x + 2, y - 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA)


def draw_zone(image: np.ndarray, points: Sequence[Point], name: str, colour: tuple[int, int, int] = RED,
              fill_alpha: float = 0.35, numbered: bool = True) -> np.ndarray:
    """`image` with the zone filled half-transparent, outlined, its corners numbered and its name shown."""
    h, w = image.shape[:2]
    px = to_pixels(points, w, h)
    overlay = image.copy()
    cv2.fillPoly(overlay, [px], colour)
    out = cv2.addWeighted(overlay, fill_alpha, image, 1 - fill_alpha, 0)
    line = max(2, int(round(w / 400)))
    cv2.polylines(out, [px], isClosed=True, color=colour, thickness=line, lineType=cv2.LINE_AA)
    for i, (x, y) in enumerate(px):
        cv2.circle(out, (int(x), int(y)), line * 3, (255, 255, 255), -1, cv2.LINE_AA)
        cv2.circle(out, (int(x), int(y)), line * 3, colour, line, cv2.LINE_AA)
        if numbered:
            _label(out, str(i + 1), (int(x) + line * 4, int(y) - line * 4), colour)
    cx, cy = px.mean(axis=0)
    _label(out, name, (int(cx), int(cy)), colour)
    return out


def draw_zones(image: np.ndarray, zones: Sequence[tuple[str, Sequence[Point]]], highlight: str | None = None) -> np.ndarray:
    """Every zone of a camera: the highlighted one in red with numbered corners, the others in yellow."""
    out = image.copy()
    for name, points in zones:
        if name != highlight:
            out = draw_zone(out, points, name, YELLOW, fill_alpha=0.2, numbered=False)
    for name, points in zones:
        if name == highlight:
            out = draw_zone(out, points, name, RED)
    return out


def draw_report(image: np.ndarray, zones: Sequence[tuple[str, Sequence[Point]]],
                boxes: Sequence[Sequence[float]] = ()) -> np.ndarray:
    """The commissioning picture: every zone in its own colour (`zone_colour`), and each person box
    (x1, y1, x2, y2[, score], fractions of the frame) outlined with its score."""
    out = image.copy()
    for i, (name, points) in enumerate(zones):
        out = draw_zone(out, points, name, zone_colour(i), fill_alpha=0.25, numbered=False)
    h, w = out.shape[:2]
    line = max(2, int(round(w / 400)))
    for box in boxes:
        x1, y1, x2, y2 = (int(round(v * (w - 1 if i % 2 == 0 else h - 1))) for i, v in enumerate(box[:4]))
        cv2.rectangle(out, (x1, y1), (x2, y2), (0, 0, 0), line + 2)
        cv2.rectangle(out, (x1, y1), (x2, y2), BOX, line)
        if len(box) > 4:
            _label(out, f"{box[4]:.2f}", (x1, y1 - line), (0, 0, 0))
    return out


def polygon_area(points: Sequence[Point]) -> float:
    """Area of a polygon in normalized units (fraction of the frame), by the shoelace formula."""
    n = len(points)
    return abs(sum(points[i][0] * points[(i + 1) % n][1] - points[(i + 1) % n][0] * points[i][1] for i in range(n))) / 2
