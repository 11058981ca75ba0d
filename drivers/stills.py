"""A still image shown as a short clip: slow pan, slight zoom, brightness flicker, sensor noise.

Why: the detectors are stateful (motion gate, tracker, flicker, N-of-M rules) and a perfectly
static image is not what a camera delivers; the same clip generator is used by `stationctl
replay` for still images, by the benchmark and by the tests, so their figures agree.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import cv2
import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def is_still(path: str) -> bool:
    """True when the path names a still image (by suffix) rather than a video."""
    return path.lower().endswith(IMAGE_SUFFIXES)


def still_clip(
    image: np.ndarray,
    frames: int = 30,
    pan: float = 0.03,
    zoom: float = 0.06,
    flicker: float = 0.04,
    noise: float = 2.0,
    seed: int = 0,
) -> Iterator[np.ndarray]:
    """Yield `frames` BGR frames of the same size as `image`.

    Each frame is a crop of (1 - zoom) of the image whose centre drifts along a slow ellipse of
    `pan` (fraction of the size), scaled back to the full size; brightness varies by up to
    `flicker` and Gaussian noise of `noise` grey levels is added, like a real sensor.
    """
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    cw, ch = int(round(w * (1 - zoom))), int(round(h * (1 - zoom)))
    free_x, free_y = w - cw, h - ch
    phase = rng.uniform(0, 2 * math.pi)
    # One noise field, shifted at random for each frame: per-pixel noise differs from frame to
    # frame like a sensor's, at a fraction of the cost of drawing new Gaussian samples each time.
    bank = rng.standard_normal(image.shape, dtype=np.float32) * np.float32(noise) if noise > 0 else None
    for i in range(frames):
        t = phase + 2 * math.pi * i / max(frames, 1)
        x = int(round(free_x / 2 + math.cos(t) * min(pan * w, free_x / 2)))
        y = int(round(free_y / 2 + math.sin(t) * min(pan * h, free_y / 2)))
        crop = image[y : y + ch, x : x + cw]
        out = cv2.resize(crop, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        out *= np.float32(1.0 + rng.uniform(-flicker, flicker))
        if bank is not None:
            out += np.roll(bank, (int(rng.integers(h)), int(rng.integers(w))), axis=(0, 1))
        np.clip(out, 0, 255, out=out)
        yield out.astype(np.uint8)
