"""Alarm evidence: the frame with boxes and zones drawn, as a JPEG under a size limit.

The snapshot travels over a rural link (often 4G with a data cap) next to the alarm, so it is
bounded: quality goes down first (detail matters less than the picture arriving), then the
image is scaled down until it fits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import cv2
import numpy as np

from edge_models.zones import Box, Zone

RED = (0, 0, 255)
ORANGE = (0, 140, 255)
YELLOW = (0, 220, 255)
GREY = (200, 200, 200)
GREEN = (0, 200, 0)


def _px(box: Box, w: int, h: int) -> tuple[tuple[int, int], tuple[int, int]]:
    x1, y1, x2, y2 = box
    return (int(x1 * (w - 1)), int(y1 * (h - 1))), (int(x2 * (w - 1)), int(y2 * (h - 1)))


def annotate(
    image: np.ndarray,
    zones: Sequence[Zone] = (),
    hot_zone: str | None = None,
    boxes: Iterable[tuple[Box, str, tuple[int, int, int]]] = (),
    caption: str = "",
) -> np.ndarray:
    """A copy of `image` with zone outlines (the alarming zone in red), labelled boxes, a caption."""
    out = image.copy()
    h, w = out.shape[:2]
    thick = max(1, round(w / 400))
    for z in zones:
        pts = np.array(z.pixels(w, h), np.int32).reshape(-1, 1, 2)
        colour = RED if z.id == hot_zone else YELLOW
        cv2.polylines(out, [pts], True, colour, thick + (1 if z.id == hot_zone else 0), cv2.LINE_AA)
        x, y = pts[0, 0]
        cv2.putText(out, z.id, (int(x) + 4, int(y) + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * thick, colour, thick, cv2.LINE_AA)
    for box, label, colour in boxes:
        p1, p2 = _px(box, w, h)
        cv2.rectangle(out, p1, p2, colour, thick, cv2.LINE_AA)
        if label:
            cv2.putText(out, label, (p1[0], max(12, p1[1] - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45 * thick, colour, thick, cv2.LINE_AA)
    if caption:
        cv2.rectangle(out, (0, 0), (w, 22 * thick), (0, 0, 0), -1)
        cv2.putText(out, caption, (6, 16 * thick), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * thick, (255, 255, 255), thick, cv2.LINE_AA)
    return out


def encode_jpeg(image: np.ndarray, max_bytes: int, quality: int = 85, min_quality: int = 40, max_width: int = 1280) -> bytes:
    """JPEG bytes of at most `max_bytes`: quality is lowered in steps down to `min_quality`, then
    the image shrinks by a quarter at a time until it fits (a 32-pixel floor ends the search)."""
    img = image
    if img.shape[1] > max_width:
        scale = max_width / img.shape[1]
        img = cv2.resize(img, (max_width, max(1, int(img.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    q = quality
    while True:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(q)])
        if not ok:
            raise ValueError("JPEG encoding failed")
        if buf.size <= max_bytes:
            return buf.tobytes()
        if q > min_quality:
            q = max(min_quality, q - 15)
            continue
        h, w = img.shape[:2]
        if w <= 32 or h <= 32:
            return buf.tobytes()  # cannot shrink further; the limit is below any sensible JPEG
        img = cv2.resize(img, (max(32, int(w * 0.75)), max(32, int(h * 0.75))), interpolation=cv2.INTER_AREA)
