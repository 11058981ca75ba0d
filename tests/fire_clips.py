"""A still photo played as a short moving clip through the gateway's own frame processor: what
the fire tests of each detector type (learned, backbone) feed the real alarm rule."""

from __future__ import annotations

from pathlib import Path

import cv2

from drivers.stills import still_clip
from gateway.config.vision import CameraConfig
from gateway.vision.frame_processor import CameraProcessor


def run_still(cam: CameraConfig, path: Path, source: str, frames: int = 12) -> tuple[list[tuple[int, object]], CameraProcessor]:
    """(frame index, signal) of every signal raised, and the processor; every frame's fire evidence
    must come from `source` (the detector the camera was configured with)."""
    proc = CameraProcessor(cam)
    out = []
    for i, frame in enumerate(still_clip(cv2.imread(str(path)), frames=frames)):
        obs, signals = proc.step(frame, i * 0.2, 1_800_000_000 + i * 0.2)
        assert obs.fire is not None and obs.fire.source == source
        out += [(i, s) for s in signals]
    return out, proc
