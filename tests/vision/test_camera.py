"""The OpenCV camera driver on real sources: a video file, a still image, a missing device, and an
RTSP stream from GStreamer's RTSP server that is killed and restarted mid-test."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from drivers.base import Camera
from drivers.camera import OpenCvCamera, file_source, rtsp_source, v4l2_source
from gateway.config.vision import CameraConfig
from gateway.devices import build_camera
from tests.vision.conftest import SMOKE, RtspServer


def wait_for(cond: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


@pytest.mark.timeout(60)
def test_file_camera_paces_and_keeps_only_the_newest_frame(vtest_clip: Path) -> None:
    cam = OpenCvCamera("file", file_source(str(vtest_clip), fps=20, loop=True))
    try:
        assert isinstance(cam, Camera)
        first = cam.latest(timeout=10)
        assert first is not None and first.image.shape == (576, 768, 3)
        time.sleep(0.6)  # a slow consumer: frames arrive meanwhile and only the newest is kept
        newest = cam.latest(newer_than=first.index, timeout=5)
        assert newest is not None and newest.index >= first.index + 5
        assert cam.latest(newer_than=newest.index + 1000, timeout=0.2) is None
        assert wait_for(lambda: cam.fps() > 5, 10)
        assert cam.state == "streaming"
        assert wait_for(lambda: cam.stats()["frames"] > 70, 30)  # past the 60-frame end: it looped
    finally:
        cam.close()
    assert cam.state == "closed"


@pytest.mark.timeout(60)
def test_file_without_loop_ends(vtest_clip: Path) -> None:
    cam = OpenCvCamera("once", file_source(str(vtest_clip), fps=200, loop=False))
    try:
        assert wait_for(lambda: cam.state == "ended", 30)
        assert cam.stats()["frames"] == 60
    finally:
        cam.close()


@pytest.mark.timeout(60)
def test_still_image_is_served_as_a_moving_clip() -> None:
    cam = build_camera(CameraConfig.model_validate({"id": "still", "driver": {"type": "file", "path": str(SMOKE), "fps": 20}}))
    try:
        a = cam.latest(timeout=10)
        assert a is not None
        b = cam.latest(newer_than=a.index, timeout=5)
        assert b is not None and b.image.shape == a.image.shape and (b.image != a.image).any()
    finally:
        cam.close()


@pytest.mark.timeout(60)
def test_missing_sources_are_retried_with_backoff_not_raised(tmp_path: Path) -> None:
    for source in (file_source(str(tmp_path / "gone.avi")), v4l2_source("/dev/video-absent", 640, 480, 10, "MJPG")):
        cam = OpenCvCamera("absent", source, stall_s=0.5, backoff_s=0.1, backoff_max_s=0.2)
        try:
            assert cam.latest(timeout=0.8) is None
            assert wait_for(lambda: cam.stats()["open_failures"] >= 3, 10)
            s = cam.stats()
            assert s["frames"] == 0 and s["reopens"] >= 2 and "cannot open" in str(s["last_error"])
            assert cam.state in ("reopening", "opening")
        finally:
            cam.close()


@pytest.mark.timeout(120)
def test_rtsp_stall_is_reported_and_the_stream_recovers(rtsp_server: Callable[[], RtspServer]) -> None:
    server = rtsp_server()
    cfg = CameraConfig.model_validate(
        {"id": "ipcam", "driver": {"type": "rtsp", "url": server.url, "transport": "tcp", "timeout_s": 3,
                                   "stall_s": 2, "reopen_backoff_s": 0.5, "reopen_backoff_max_s": 1}}
    )
    cam = build_camera(cfg)
    assert cam.source == rtsp_source(server.url, "tcp", 3.0)
    try:
        first = cam.latest(timeout=30)
        assert first is not None and first.image.shape == (576, 768, 3)
        assert wait_for(lambda: cam.stats()["frames"] >= 10, 20)
        assert cam.state == "streaming"

        server.stop()  # the camera's RTSP server dies
        assert wait_for(lambda: cam.state in ("stalled", "reopening"), 15)
        assert wait_for(lambda: cam.stats()["stalls"] >= 1, 15)
        stalled_at = cam.stats()["frames"]
        assert "no frame" in str(cam.stats()["last_error"]) or "cannot open" in str(cam.stats()["last_error"])
        assert wait_for(lambda: cam.stats()["reopens"] >= 2, 15)  # it keeps trying, with backoff

        server.start()  # back on the same port
        last = cam.latest(timeout=0.1)
        assert wait_for(lambda: cam.stats()["frames"] > stalled_at + 10, 60)
        assert cam.state == "streaming"
        newer = cam.latest(newer_than=last.index if last else -1, timeout=5)
        assert newer is not None and newer.image.shape == (576, 768, 3)
        assert cam.stats()["stalls"] >= 1
    finally:
        cam.close()
