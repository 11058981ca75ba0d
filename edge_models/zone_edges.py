"""How far a person stands from a zone's edge: where people walk out of the water, or out of the picture.

Signed distance of a box's feet (the middle of its lower edge, as zones count people) from the
zone polygon's boundary, in pixels of the frame turned into a fraction of its larger side, so a
margin means the same on the main stream and the sub-stream. OpenCV's `pointPolygonTest` does
the geometry.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge_models.zones import Box, Zone, bottom_centre


def edge_distance(zone: Zone, box: Box, width: int, height: int) -> float:
    """Distance of the box's feet from the zone's edge as a fraction of the frame's larger side; negative outside."""
    contour = np.array(zone.pixels(width, height), np.float32).reshape(-1, 1, 2)
    x, y = bottom_centre(box)
    pixels = cv2.pointPolygonTest(contour, (float(x * (width - 1)), float(y * (height - 1))), True)
    return float(pixels) / max(width, height, 1)
