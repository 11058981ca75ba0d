"""Fixtures of the vision tests: the shared model and media, short real clips, an RTSP server."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from gateway.localbroker import free_port
from tests.conftest import MEDIA, MODELS, ROOT

DETECT = MODELS / "coco_ssd_mobilenet_v1_quant" / "detect.tflite"
LABELS = MODELS / "coco_ssd_mobilenet_v1_quant" / "labelmap.txt"
DETECT_SHA256 = "e4b118e5e4531945de2e659742c7c590f7536f8d0ed26d135abcfe83b4779d13"
VTEST = MEDIA / "people" / "vtest.avi"
FIRE_BASKET = MEDIA / "fire" / "fire-basket.jpg"
PAN_FIRE = MEDIA / "fire" / "pan-fire.jpg"
SMOKE = MEDIA / "smoke" / "wildfire_example.jpg"
MESSI = MEDIA / "people" / "messi5.jpg"
BASKETBALL = MEDIA / "people" / "basketball1.png"
EXAMPLES = ROOT / "examples"
SYSTEM_PYTHON = "/usr/bin/python3"


def read_frames(path: Path, count: int, start: int = 0) -> list[np.ndarray]:
    """`count` frames of a video from frame `start`."""
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), f"cannot open {path}"
    frames = []
    for i in range(start + count):
        ok, image = cap.read()
        assert ok, f"{path} ended at frame {i}"
        if i >= start:
            frames.append(image)
    cap.release()
    return frames


@pytest.fixture(scope="session")
def vtest_frames() -> list[np.ndarray]:
    """The first 60 frames of vtest.avi (pedestrians, 10 fps)."""
    return read_frames(VTEST, 60)


@pytest.fixture(scope="session")
def vtest_clip(tmp_path_factory: pytest.TempPathFactory, vtest_frames: list[np.ndarray]) -> Path:
    """A real 6-second AVI (MJPG) cut from vtest.avi, for tests that replay or stream a file."""
    path = tmp_path_factory.mktemp("media") / "vtest-60.avi"
    h, w = vtest_frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (w, h))
    assert writer.isOpened()
    for f in vtest_frames:
        writer.write(f)
    writer.release()
    return path


class RtspServer:
    """GStreamer's RTSP server in a child process of the system Python; stop() kills it hard."""

    def __init__(self, video: Path, port: int) -> None:
        self.video = video
        self.port = port
        self.url = f"rtsp://127.0.0.1:{port}/live"
        self.proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 20.0) -> None:
        script = Path(__file__).with_name("rtsp_server.py")
        self.proc = subprocess.Popen(
            [SYSTEM_PYTHON, str(script), str(self.port), str(self.video.resolve())],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith("READY"):
                return
            if not line and self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"the RTSP server did not start (is {SYSTEM_PYTHON} with gir1.2-gst-rtsp-server-1.0 installed?)")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


@pytest.fixture
def rtsp_server() -> Iterator[Callable[[], RtspServer]]:
    """Factory of a started RTSP server streaming vtest.avi (80 s); every server is killed at the end."""
    servers: list[RtspServer] = []

    def make() -> RtspServer:
        assert Path(SYSTEM_PYTHON).exists(), f"{SYSTEM_PYTHON} is needed for the RTSP server"
        server = RtspServer(VTEST, free_port())
        server.start()
        servers.append(server)
        return server

    yield make
    for s in servers:
        s.stop()
