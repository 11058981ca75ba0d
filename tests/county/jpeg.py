"""Real JPEGs for the snapshot tests, made the way a station's camera path makes them (OpenCV)."""

from __future__ import annotations

import cv2
import numpy as np


def real_jpeg(width: int = 320, height: int = 240, label: str = "pond-01") -> bytes:
    """A JPEG with content (a shape and a label), not a stub header."""
    image = np.zeros((height, width, 3), np.uint8)
    cv2.rectangle(image, (width // 8, height // 4), (width * 5 // 8, height * 3 // 4), (40, 90, 230), -1)
    cv2.putText(image, label, (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
    ok, buf = cv2.imencode(".jpg", image)
    assert ok
    return buf.tobytes()
