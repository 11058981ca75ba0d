"""Clips built from the shared media: a basketball player pasted small (about 170 px tall) into a
1080p plaza whose lower part is the water zone, walking in, staying, walking out or vanishing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from tests.vision.conftest import BASKETBALL, DETECT, LABELS, VTEST, read_frames

WATER = [[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]]  # the lower half of the picture
BANK_Y = 332  # top of the player when his feet are on the bank (y = 500, above the water at 540)
WATER_Y = 642  # top of the player mid-water (feet at 810: more than his height from the bank and the picture's edge)
X = 860


def plaza() -> np.ndarray:
    """vtest.avi's plaza without its walkers (per-pixel median), scaled to 1920x1080."""
    frames = [read_frames(VTEST, 1, start)[0] for start in range(0, 780, 60)]
    return cv2.resize(np.median(np.stack(frames), axis=0).astype(np.uint8), (1920, 1080), interpolation=cv2.INTER_CUBIC)


def player(scale: float = 0.35) -> np.ndarray:
    return cv2.resize(cv2.imread(str(BASKETBALL))[0:480, 400:640], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def write_clip(path: Path, tops: Sequence[int | None], fps: float) -> Path:
    """One frame per entry: the player with his top at that row (None: nobody), as an MJPG AVI."""
    background, person = plaza(), player()
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (1920, 1080))
    assert writer.isOpened()
    for top in tops:
        frame = background.copy()
        if top is not None:
            frame[top:top + person.shape[0], X:X + person.shape[1]] = person
        writer.write(frame)
    writer.release()
    return path


def walk(start: int, end: int, frames: int) -> list[int]:
    return [round(start + (end - start) * i / max(1, frames - 1)) for i in range(frames)]


def camera_doc(path: Path, fps: float, zone: dict) -> dict:
    """A 1080p camera on the clip, tiles at native resolution, every frame analysed."""
    return {
        "id": "pond-cam", "driver": {"type": "file", "path": str(path), "fps": fps, "loop": False},
        "timezone": "Asia/Shanghai", "max_fps": fps,
        "detection": {"model": {"path": str(DETECT), "labels": str(LABELS)}, "regions": {"mode": "tiles", "max_invokes": 8},
                      "tracker": {"max_age_s": 1.0}},
        "zones": [{"id": "water", "name": "东塘水面", "polygon": WATER, "min_box_area": 0.0001, **zone}],
        "motion": {"enabled": False},
    }
