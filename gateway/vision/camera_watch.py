"""The camera loop: one thread per camera, from the newest frame to alarm signals.

`CameraWatch` takes the newest frame, runs the camera's `CameraProcessor` (pipeline, rules,
snapshots) and hands each signal to `emit`; it beats `camera:{id}` at least once a second, so
the station's watchdog sees a hung loop, and it raises `camera_stale` (category health) when the
camera delivers nothing for `stale_after_s`. An exception while analysing one frame is logged
and counted, never fatal: the loop goes on with the next frame.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from drivers.base import Camera
from drivers.camera import OpenCvCamera
from gateway.alarms import AlarmSignal
from gateway.config.vision import CameraConfig
from gateway.devices import build_camera
from gateway.vision.frame_processor import CameraProcessor, SuppressionsOf

log = logging.getLogger(__name__)

STALE_KIND = "camera_stale"


class CameraWatch:
    """Runs one camera in its own thread. `stop()` also closes the camera."""

    def __init__(
        self,
        cfg: CameraConfig,
        camera: Camera,
        emit: Callable[[AlarmSignal], None],
        beat: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        suppressions: SuppressionsOf | None = None,
    ) -> None:
        """`suppressions`: the county's "false alarm here" regions (see `CameraProcessor`)."""
        self.cfg = cfg
        self.camera_id = cfg.id
        self.camera = camera
        self.processor = CameraProcessor(cfg, suppressions=suppressions)
        self._emit = emit
        self._beat = beat
        self._clock = clock
        self._wall = wall
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._done: deque[float] = deque(maxlen=64)
        self._stale = False
        self._last_frame_at: float | None = None
        self._started_at = clock()
        self.frames = 0
        self.analysed = 0
        self.errors = 0
        self.last_error = ""
        self.infer_ms: deque[float] = deque(maxlen=100)

    @property
    def loop_name(self) -> str:
        return f"camera:{self.camera_id}"

    def start(self) -> None:
        """Start the loop thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.loop_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop and close the camera."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.camera.close()

    def fps(self) -> float:
        """Frames analysed or gated per second over the last few seconds."""
        now = self._clock()
        recent = [t for t in list(self._done) if now - t <= 5.0]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)

    def status(self) -> dict[str, Any]:
        """For health reports: loop and camera counters."""
        camera_stats = getattr(self.camera, "stats", None)
        return {
            "fps": round(self.fps(), 2),
            "frames": self.frames,
            "analysed": self.analysed,
            "errors": self.errors,
            "last_error": self.last_error,
            "stale": self._stale,
            "open_alarms": self.processor.open_alarms(),
            "camera": camera_stats() if callable(camera_stats) else {},
        }

    # ------------------------------------------------------------------ loop

    def _run(self) -> None:
        period = 1.0 / self.cfg.max_fps
        last_index = -1
        while not self._stop.is_set():
            self._beat(self.loop_name)
            frame = self.camera.latest(newer_than=last_index, timeout=1.0)
            now = self._clock()
            if frame is None:
                self._check_stale(now)
                continue
            last_index = frame.index
            self._last_frame_at = now
            if self._stale:
                self._stale = False
                self._emit(AlarmSignal(STALE_KIND, self.camera_id, False, category="health", summary=f"camera {self.camera_id} delivers frames again"))
            started = now
            try:
                wall = self._wall() - (now - frame.ts)
                obs, signals = self.processor.step(frame.image, frame.ts, wall)  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001 - one bad frame must not end the camera loop
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("camera %s: analysing frame %d failed", self.camera_id, frame.index)
                self._stop.wait(0.5)
                continue
            self.frames += 1
            if obs.analysed:
                self.analysed += 1
                self.infer_ms.append(obs.infer_ms)
            self._done.append(self._clock())
            for signal in signals:
                self._emit(signal)
            spare = period - (self._clock() - started)
            if spare > 0:
                self._stop.wait(spare)

    def _check_stale(self, now: float) -> None:
        since = self._last_frame_at if self._last_frame_at is not None else self._started_at
        if self._stale or now - since < self.cfg.stale_after_s:
            return
        self._stale = True
        stats = getattr(self.camera, "stats", None)
        info = stats() if callable(stats) else {}
        self._emit(
            AlarmSignal(
                STALE_KIND, self.camera_id, True, severity="warning", category="health",
                summary=f"no frame from camera {self.camera_id} for {now - since:.0f} s",
                details={"silent_s": round(now - since, 1), **{k: info[k] for k in ("state", "stalls", "reopens", "last_error") if k in info}},
            )
        )


def start_camera_watches(
    cameras: Sequence[CameraConfig],
    emit: Callable[[AlarmSignal], None],
    beat: Callable[[str], None],
    clock: Callable[[], float] = time.monotonic,
    wall: Callable[[], float] = time.time,
    suppressions: SuppressionsOf | None = None,
) -> list[CameraWatch]:
    """Build and start a watch per configured camera; signals go to `emit`, heartbeats to `beat`.

    `clock` is the station's monotonic clock, `wall` its wall clock (frame times for the rules).
    A camera whose models cannot be loaded does not stop the others: it gets a
    `vision_unavailable` health alarm instead of a watch.
    """
    watches: list[CameraWatch] = []
    for cam in cameras:
        camera: OpenCvCamera | None = None
        try:
            camera = build_camera(cam, clock=clock)
            watch = CameraWatch(cam, camera, emit, beat, clock=clock, wall=wall, suppressions=suppressions)
        except Exception as exc:  # noqa: BLE001 - a broken model file must not stop the other cameras
            if camera is not None:
                camera.close()
            log.exception("camera %s: cannot start", cam.id)
            emit(
                AlarmSignal(
                    "vision_unavailable", cam.id, True, severity="danger", category="health",
                    summary=f"camera {cam.id} is not watched: {exc}", details={"error": f"{type(exc).__name__}: {exc}"},
                )
            )
            continue
        watch.start()
        watches.append(watch)
    return watches
