"""Frames for the technician's tools: a few frames and a snapshot from a configured camera.

The camera is built by the gateway's own factory (`gateway.devices.build_camera`), so the
check sees exactly what the running gateway will see: same driver, same pacing, same reopening.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from drivers.base import Camera
from foundation.errors import DeviceUnavailable
from gateway.config.vision import CameraConfig

GIVE_UP_AFTER_OPEN_FAILURES = 2  # a source that failed to open twice in a row is reported, not waited for


def open_camera(cfg: CameraConfig) -> Camera:
    """The camera of `cfg`, built like the gateway builds it (it starts grabbing at once)."""
    from gateway.devices import build_camera

    return build_camera(cfg)


@dataclass
class FrameSample:
    """Frames grabbed from a camera, with the rate they came at."""

    frames: list[np.ndarray]
    fps: float
    width: int
    height: int

    @property
    def last(self) -> np.ndarray:
        return self.frames[-1]


def _why_silent(camera: Camera) -> tuple[str, int]:
    """The driver's last error and how many opens failed, when it reports them."""
    stats = getattr(camera, "stats", None)
    if not callable(stats):
        return "", 0
    s = stats()
    return str(s.get("last_error") or ""), int(s.get("open_failures") or 0)


def grab(camera: Camera, count: int, timeout_s: float = 8.0, say: Callable[[str], None] | None = None) -> FrameSample:
    """`count` consecutive new frames (fewer if the camera stalls); DeviceUnavailable if none came."""
    frames: list[np.ndarray] = []
    stamps: list[float] = []
    last = -1
    deadline = time.monotonic() + timeout_s + count * 0.5
    first_by = time.monotonic() + timeout_s
    while len(frames) < count and time.monotonic() < deadline:
        frame = camera.latest(newer_than=last, timeout=0.25)
        if frame is None:
            why, failures = _why_silent(camera)
            if not frames and (time.monotonic() > first_by or failures >= GIVE_UP_AFTER_OPEN_FAILURES):
                name = getattr(camera, "name", "camera")
                raise DeviceUnavailable(name, why or f"no frame within {timeout_s:g} s")
            continue
        last = frame.index
        frames.append(np.asarray(frame.image))
        stamps.append(frame.ts)
        if say is not None:
            say(f"{len(frames)}/{count}")
    if not frames:
        raise DeviceUnavailable(getattr(camera, "name", "camera"), f"no frame within {timeout_s:g} s")
    measured = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 and stamps[-1] > stamps[0] else 0.0
    h, w = frames[-1].shape[:2]
    return FrameSample(frames, round(measured or camera.fps(), 2), w, h)


def snapshot(cfg: CameraConfig, count: int = 3, timeout_s: float = 8.0) -> FrameSample:
    """Open the camera, grab a few frames, close it (a single frame may be a stale buffered one)."""
    camera = open_camera(cfg)
    try:
        return grab(camera, count, timeout_s)
    finally:
        camera.close()


def save_jpeg(image: np.ndarray, path: Path, quality: int = 90) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise DeviceUnavailable("snapshot", f"cannot encode {path.name}")
    path.write_bytes(data.tobytes())
    return path
