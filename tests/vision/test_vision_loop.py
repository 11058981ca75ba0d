"""CameraWatch: a real file camera, the real model and the example config's rules, in a thread."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.base import Frame
from gateway.alarms import AlarmSignal
from gateway.config.station import load_config
from gateway.config.vision import CameraConfig
from gateway.devices import build_camera
from gateway.vision.camera_watch import CameraWatch, start_camera_watches
from tests.vision.conftest import EXAMPLES


class Collector:
    """Thread-safe sink for the watch's two callbacks."""

    def __init__(self) -> None:
        self.signals: list[AlarmSignal] = []
        self.beats: list[str] = []
        self.lock = threading.Lock()

    def emit(self, signal: AlarmSignal) -> None:
        with self.lock:
            self.signals.append(signal)

    def beat(self, name: str) -> None:
        with self.lock:
            self.beats.append(name)

    def kinds(self) -> list[tuple[str, bool]]:
        with self.lock:
            return [(s.kind, s.active) for s in self.signals]


def wait_for(cond, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return bool(cond())


def pond_camera(path: Path, **changes: object) -> CameraConfig:
    cam = load_config(EXAMPLES / "pond-station.yaml").cameras[0]
    driver = cam.driver.model_copy(update={"path": str(path)})
    return cam.model_copy(update={"driver": driver, **changes})


@pytest.mark.timeout(120)
def test_watch_raises_the_person_alarm_with_a_snapshot(vtest_clip: Path) -> None:
    cfg = pond_camera(vtest_clip)
    sink = Collector()
    watch = CameraWatch(cfg, build_camera(cfg), sink.emit, sink.beat)
    watch.start()
    try:
        assert wait_for(lambda: ("person_in_water_zone", True) in sink.kinds(), 60)
        assert wait_for(lambda: watch.fps() > 0, 10)
    finally:
        watch.stop()
    raised = next(s for s in sink.signals if s.kind == "person_in_water_zone")
    assert raised.source == "pond-cam/water" and raised.severity == "danger" and raised.category == "safety"
    assert raised.details["count"] >= 1 and len(raised.details["track_ids"]) == raised.details["count"]
    assert "dwell_s" in raised.details and set(raised.updates_on) == {"count", "track_ids"}
    jpeg = raised.snapshot_jpeg
    assert jpeg is not None and len(jpeg) <= cfg.snapshot.max_bytes
    assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape[:2] == (576, 768)
    assert set(sink.beats) == {"camera:pond-cam"}
    status = watch.status()
    assert status["analysed"] >= 3 and status["errors"] == 0 and status["camera"]["state"] == "closed"


@pytest.mark.timeout(120)
def test_a_silent_camera_raises_camera_stale_and_clears_when_frames_return(tmp_path: Path, vtest_clip: Path) -> None:
    later = tmp_path / "later.avi"
    cfg = pond_camera(later, stale_after_s=1.0)
    cfg = cfg.model_copy(update={"driver": cfg.driver.model_copy(update={"reopen_backoff_s": 0.2, "reopen_backoff_max_s": 0.5})})
    sink = Collector()
    watch = CameraWatch(cfg, build_camera(cfg), sink.emit, sink.beat)
    watch.start()
    try:
        assert wait_for(lambda: ("camera_stale", True) in sink.kinds(), 20)
        stale = next(s for s in sink.signals if s.kind == "camera_stale")
        assert stale.category == "health" and stale.source == "pond-cam" and stale.details["last_error"]
        assert len(sink.beats) >= 2  # the loop keeps beating while the camera is silent
        shutil.copy(vtest_clip, later)  # the source comes back
        assert wait_for(lambda: ("camera_stale", False) in sink.kinds(), 30)
    finally:
        watch.stop()


@pytest.mark.timeout(120)
def test_start_camera_watches_from_a_station(tmp_path: Path, vtest_clip: Path) -> None:
    good = pond_camera(vtest_clip)
    broken = good.model_copy(
        update={"id": "dead-cam", "detection": good.detection.model_copy(update={"model": good.detection.model.model_copy(update={"path": tmp_path / "x.tflite"})})}
    )
    sink = Collector()
    watches = start_camera_watches([good, broken], sink.emit, sink.beat, clock=time.monotonic, wall=time.time)
    try:
        assert [w.camera_id for w in watches] == ["pond-cam"]
        assert ("vision_unavailable", True) in sink.kinds()
        assert wait_for(lambda: watches[0].fps() > 0, 30)
    finally:
        for w in watches:
            w.stop()


class ListCamera:
    """A camera protocol implementation over frames in memory (like a file source, without pacing)."""

    def __init__(self, images: list[np.ndarray]) -> None:
        self.images = images
        self.closed = False

    def latest(self, newer_than: int = -1, timeout: float = 1.0) -> Frame | None:
        i = newer_than + 1
        if i >= len(self.images):
            time.sleep(min(timeout, 0.05))
            return None
        return Frame(self.images[i], time.monotonic(), i)

    def fps(self) -> float:
        return 0.0

    def close(self) -> None:
        self.closed = True


@pytest.mark.timeout(120)
def test_a_frame_that_breaks_the_analysis_is_counted_and_skipped(vtest_frames: list[np.ndarray]) -> None:
    broken = np.zeros((10,), np.uint8)  # not an image at all
    camera = ListCamera([*vtest_frames[:3], broken, *vtest_frames[3:20]])
    cfg = pond_camera(Path("unused.avi"))
    sink = Collector()
    watch = CameraWatch(cfg, camera, sink.emit, sink.beat)
    watch.start()
    try:
        assert wait_for(lambda: watch.frames >= 20, 60)
    finally:
        watch.stop()
    assert watch.errors == 1 and "error" in watch.last_error.lower() and camera.closed
    assert ("person_in_water_zone", True) in sink.kinds()
